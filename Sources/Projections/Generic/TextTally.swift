#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import EventStore

/// Counts names read in place over a run of records, then adds the counts to a name-keyed map:
/// one `String` built and hashed per distinct name and run, instead of one per record.
///
/// The table is open addressing, keyed by each name's `NameWords` (which also give the hash);
/// longer names that share those are told apart by their bytes. The texts are the records' own bytes, so a tally lives no longer than its run.
struct TextTally {
    private struct Entry {
        var name: NameWords
        var text: TextView
        var count: Int
    }

    private var slots: [Int32]
    private var entries: [Entry] = []
    private var shift: UInt64

    /// A table for about `capacity` distinct names; it grows past that.
    init(capacity: Int) {
        var size = 16
        while size < 2 * max(1, capacity) { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        shift = UInt64(64 - size.trailingZeroBitCount)
        entries.reserveCapacity(capacity)
    }

    mutating func add(_ text: TextView) {
        let name = NameWords(text.bytes)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: name.mixed >> shift)
        while true {
            let slot = Int(slots[index])
            if slot == 0 {
                entries.append(Entry(name: name, text: text, count: 1))
                slots[index] = Int32(entries.count)
                if entries.count * 2 > slots.count { grow() }
                return
            }
            let entry = entries[slot - 1]
            if entry.name == name, name.isWhole || Self.sameBytes(entry.text, text) {
                entries[slot - 1].count += 1
                return
            }
            index = (index + 1) & mask
        }
    }

    /// Adds every count to `map`.
    func add(to map: inout [String: Int]) {
        for entry in entries { map[entry.text.string, default: 0] += entry.count }
    }

    private static func sameBytes(_ a: TextView, _ b: TextView) -> Bool {
        guard let p = a.bytes.baseAddress, let q = b.bytes.baseAddress else { return a.bytes.count == b.bytes.count }
        return memcmp(p, q, a.bytes.count) == 0
    }

    private mutating func grow() {
        var bigger = TextTally(capacity: slots.count)
        for entry in entries {
            bigger.add(entry.text)
            bigger.entries[bigger.entries.count - 1].count = entry.count
        }
        self = bigger
    }
}
