#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reuses the `String` for text a scan sees again and again (types, nodes, streams), so that a
/// replay does not allocate and free a copy of the same name per event. A small direct-mapped
/// cache: a miss just builds the string and takes the slot. Strings of up to 15 bytes are built
/// directly: Swift keeps them inline, and building one costs less than looking it up.
final class StringInterner {
    private struct Slot {
        var hash: UInt64 = 0
        var bytes: [UInt8] = []
        var text = ""
    }

    private static let capacity = 512
    // A raw buffer rather than an array property: no exclusivity bookkeeping per access.
    private let slots: UnsafeMutablePointer<Slot>

    init() {
        slots = .allocate(capacity: Self.capacity)
        slots.initialize(repeating: Slot(), count: Self.capacity)
    }

    deinit {
        slots.deinitialize(count: Self.capacity)
        slots.deallocate()
    }

    func text(_ bytes: UnsafeRawBufferPointer, orElse make: () throws(CBORError) -> String) throws(CBORError) -> String {
        guard bytes.count > 15, bytes.count <= 256, let base = bytes.baseAddress else { return try make() }
        var hash: UInt64 = 0xcbf29ce484222325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100000001b3 }
        let slot = slots + Int(truncatingIfNeeded: hash & UInt64(Self.capacity - 1))
        if slot.pointee.hash == hash, slot.pointee.bytes.count == bytes.count,
           slot.pointee.bytes.withUnsafeBytes({ $0.baseAddress.map { memcmp($0, base, bytes.count) == 0 } ?? false }) {
            return slot.pointee.text
        }
        let text = try make()
        slot.pointee = Slot(hash: hash, bytes: Array(bytes), text: text)
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
