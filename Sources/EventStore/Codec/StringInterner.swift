#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reuses the `String` for text a scan sees again and again (types, nodes, streams), so that a
/// replay neither validates and builds nor allocates and frees a copy of the same name per
/// event. Two small direct-mapped caches; a miss just builds the string and takes the slot.
/// Names of up to 16 bytes (most of them) are compared as two machine words, which costs a
/// fraction of building even an inline `String` (measured with callgrind: about 350
/// instructions per short name built, against about 60 per cached one).
final class StringInterner {
    private struct ShortSlot {
        var name = NameWords.none
        var text = ""
    }

    private struct LongSlot {
        var hash: UInt64 = 0
        var bytes: [UInt8] = []
        var text = ""
    }

    /// Long names are few (types, some streams); short ones include every stream of a busy
    /// log, so their table is larger: 2,000 streams and 50 nodes leave about one name in ten
    /// without a place in 4,096 two-way sets (one in four with 2,048, one in three
    /// direct-mapped, three in five in 512 slots).
    private static let capacity = 512
    private static let shortCapacity = 8_192
    private static let shortSetShift: UInt64 = 64 - 12  // log2(shortCapacity / 2) bits
    // Raw buffers rather than array properties: no exclusivity bookkeeping per access.
    private let shortSlots: UnsafeMutablePointer<ShortSlot>
    private let longSlots: UnsafeMutablePointer<LongSlot>

    init() {
        shortSlots = .allocate(capacity: Self.shortCapacity)
        shortSlots.initialize(repeating: ShortSlot(), count: Self.shortCapacity)
        longSlots = .allocate(capacity: Self.capacity)
        longSlots.initialize(repeating: LongSlot(), count: Self.capacity)
    }

    deinit {
        shortSlots.deinitialize(count: Self.shortCapacity)
        shortSlots.deallocate()
        longSlots.deinitialize(count: Self.capacity)
        longSlots.deallocate()
    }

    /// The string of `bytes`: a cached one with the same bytes, else `make()` (which validates).
    func text(_ bytes: UnsafeRawBufferPointer, orElse make: () throws(CBORError) -> String) throws(CBORError) -> String {
        if bytes.count <= 16 { return try shortText(bytes, orElse: make) }
        guard bytes.count <= 256, let base = bytes.baseAddress else { return try make() }
        let hash = NameWords.fnv1a(bytes)
        let slot = longSlots + Int(truncatingIfNeeded: hash & UInt64(Self.capacity - 1))
        if slot.pointee.hash == hash, slot.pointee.bytes.count == bytes.count,
           slot.pointee.bytes.withUnsafeBytes({ $0.baseAddress.map { memcmp($0, base, bytes.count) == 0 } ?? false }) {
            return slot.pointee.text
        }
        let text = try make()
        slot.pointee = LongSlot(hash: hash, bytes: Array(bytes), text: text)
        return text
    }

    private func shortText(_ bytes: UnsafeRawBufferPointer, orElse make: () throws(CBORError) -> String) throws(CBORError) -> String {
        let name = NameWords(bytes)
        // Two-way sets, picked by the mix's high bits: a name that shares its set with one
        // other name still stays cached.
        let set = shortSlots + Int(truncatingIfNeeded: name.mixed >> Self.shortSetShift) * 2
        if set.pointee.name == name { return set.pointee.text }
        let other = set + 1
        if other.pointee.name == name { return other.pointee.text }
        let text = try make()
        other.pointee = set.pointee
        set.pointee = ShortSlot(name: name, text: text)
        return text
    }
}

extension CBORReader {
    /// A text string, through `interner` when one is given.
    mutating func readString(interner: StringInterner?) throws(CBORError) -> String {
        guard let interner else { return try readString() }
        let start = offset
        let (major, argument, _) = try head()
        guard major == 3 else { throw fail("expected a text string") }
        guard argument <= UInt64(base.count - offset) else { throw fail("length \(argument) exceeds the data") }
        let end = offset + Int(argument)
        let body = UnsafeRawBufferPointer(rebasing: base[offset..<end])
        let text = try interner.text(body) { () throws(CBORError) -> String in
            offset = start
            return try readString()
        }
        offset = end
        return text
    }
}

/// Interners kept between scans, so that a scan starts with the names earlier scans met: a
/// `state(at:)` gap or one chunk of a parallel replay is too short to warm a cache of its own
/// (measured: fresh interners per 1,250-event chunk missed two names in five).
final class InternerPool: @unchecked Sendable {
    // @unchecked: `idle` is guarded by `lock`; an interner is used by one scan at a time.
    private let lock = Mutex()
    private var idle: [StringInterner] = []
    private let keep = 4

    func withInterner<T>(_ body: (StringInterner) throws -> T) rethrows -> T {
        let interner = lock.withLock { idle.popLast() } ?? StringInterner()
        defer { lock.withLock { if idle.count < keep { idle.append(interner) } } }
        return try body(interner)
    }
}
