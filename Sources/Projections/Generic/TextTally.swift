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
/// longer names that share those are told apart by their bytes. The texts are the records' own
/// bytes, so a tally lives no longer than its run.
///
/// A class over raw buffers, not a struct of arrays: `add` runs three times per record of every
/// `stats` replay, and arrays cost it a bounds and a uniqueness check per access (about 100
/// instructions an add, against about 30 now). Its properties are touched by one thread only
/// (a tally belongs to one run), hence `@exclusivity(unchecked)`.
final class TextTally {
    private struct Entry {
        var name: NameWords
        var text: TextView
        var count: Int
    }

    @exclusivity(unchecked) private var slots: UnsafeMutablePointer<Int32>
    @exclusivity(unchecked) private var slotCount: Int
    @exclusivity(unchecked) private var entries: UnsafeMutablePointer<Entry>
    @exclusivity(unchecked) private var entryCount = 0
    @exclusivity(unchecked) private var shift: UInt64

    /// A table for about `capacity` distinct names; it grows past that.
    init(capacity: Int) {
        var size = 16
        while size < 2 * max(1, capacity) { size <<= 1 }
        (slots, entries) = Self.allocate(slotCount: size)
        slotCount = size
        shift = UInt64(64 - size.trailingZeroBitCount)
    }

    deinit {
        slots.deallocate()
        entries.deallocate()
    }

    /// Zeroed slots and room for the entries they can hold before the table grows (half of them,
    /// plus the one that triggers growing).
    private static func allocate(slotCount: Int) -> (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Entry>) {
        let slots = UnsafeMutablePointer<Int32>.allocate(capacity: slotCount)
        slots.initialize(repeating: 0, count: slotCount)
        return (slots, .allocate(capacity: slotCount / 2 + 1))
    }

    func add(_ text: TextView) {
        let name = NameWords(text.bytes)
        let slots = self.slots, entries = self.entries, mask = slotCount - 1
        var index = Int(truncatingIfNeeded: name.mixed >> shift)
        while true {
            let slot = Int(slots[index])
            if slot == 0 {
                (entries + entryCount).initialize(to: Entry(name: name, text: text, count: 1))
                entryCount += 1
                slots[index] = Int32(entryCount)
                if entryCount * 2 > slotCount { grow() }
                return
            }
            let entry = entries + (slot - 1)
            if entry.pointee.name == name, name.isWhole || Self.sameBytes(entry.pointee.text, text) {
                entry.pointee.count += 1
                return
            }
            index = (index + 1) & mask
        }
    }

    /// Adds every count to `map`.
    func add(to map: inout [String: Int]) {
        // Room for every name at once: an empty map (a run applied apart, to be combined)
        // would otherwise be resized about a dozen times for 2,000 streams.
        if map.isEmpty { map.reserveCapacity(entryCount) }
        for entry in UnsafeBufferPointer(start: entries, count: entryCount) {
            map[entry.text.string, default: 0].addSaturated(entry.count)
        }
    }

    private static func sameBytes(_ a: TextView, _ b: TextView) -> Bool {
        guard let p = a.bytes.baseAddress, let q = b.bytes.baseAddress else { return a.bytes.count == b.bytes.count }
        return memcmp(p, q, a.bytes.count) == 0
    }

    /// Doubles the table and places every entry again (entries are all distinct names).
    private func grow() {
        let size = slotCount * 2
        let (biggerSlots, biggerEntries) = Self.allocate(slotCount: size)
        biggerEntries.moveInitialize(from: entries, count: entryCount)
        let mask = size - 1, biggerShift = UInt64(64 - size.trailingZeroBitCount)
        for position in 0..<entryCount {
            var index = Int(truncatingIfNeeded: biggerEntries[position].name.mixed >> biggerShift)
            while biggerSlots[index] != 0 { index = (index + 1) & mask }
            biggerSlots[index] = Int32(position + 1)
        }
        slots.deallocate()
        entries.deallocate()
        (slots, entries, slotCount, shift) = (biggerSlots, biggerEntries, size, biggerShift)
    }
}
