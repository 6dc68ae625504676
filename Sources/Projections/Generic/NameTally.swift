/// Counts names over a run of events, then adds the counts to a name-keyed map: one `String`
/// hash per distinct name and run instead of one per event.
///
/// The tally is an open-addressing table keyed by each `String`'s 16-byte representation, which
/// costs a multiply to hash. A scan hands out the same `String` for a name it has met before
/// (`StringInterner`), so equal names nearly always share a representation; when two equal names
/// do not, they take two entries and merge in `add(to:)`, which compares them as strings. The
/// result is therefore exact whatever the representations; only the speed depends on them.
struct NameTally {
    private var slots: [Int32]
    private var keys: [(UInt64, UInt64)] = []
    private var names: [String] = []
    private var counts: [Int] = []
    private let shift: UInt64

    /// A table for up to `capacity` distinct names.
    init(capacity: Int) {
        var size = 16
        while size < 2 * max(1, capacity) { size <<= 1 }
        slots = [Int32](repeating: 0, count: size)
        shift = UInt64(64 - size.trailingZeroBitCount)
        keys.reserveCapacity(capacity)
        names.reserveCapacity(capacity)
        counts.reserveCapacity(capacity)
    }

    mutating func add(_ name: String) {
        let key = unsafeBitCast(name, to: (UInt64, UInt64).self)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: ((key.0 ^ (key.1 &* 0xC2B2_AE3D_27D4_EB4F)) &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while true {
            let slot = Int(slots[index])
            if slot == 0 {
                keys.append(key)
                names.append(name)
                counts.append(1)
                slots[index] = Int32(names.count)
                if names.count * 2 > slots.count { grow() }
                return
            }
            if keys[slot - 1] == key {
                counts[slot - 1] += 1
                return
            }
            index = (index + 1) & mask
        }
    }

    /// Adds every count to `map`.
    func add(to map: inout [String: Int]) {
        for (name, count) in zip(names, counts) { map[name, default: 0] += count }
    }

    private mutating func grow() {
        var bigger = NameTally(capacity: slots.count)
        for (name, count) in zip(names, counts) {
            bigger.add(name)
            bigger.counts[bigger.counts.count - 1] += count - 1
        }
        self = bigger
    }
}
