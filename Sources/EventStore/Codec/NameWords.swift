/// A name read as bytes, the way the name caches of scans and the tallies of replays compare
/// and place it without building a `String`: its first sixteen bytes as two machine words
/// (zero-padded) and its length. For names of up to 16 bytes (most types, nodes and streams)
/// equal words mean equal names; longer ones also need their bytes compared.
public struct NameWords: Equatable, Sendable {
    public let first: UInt64
    public let second: UInt64
    public let length: Int

    /// Reads the words with at most two loads each and never a byte outside `bytes`: a short
    /// name is read as two overlapping loads whose shared bytes agree. (Copying the bytes into
    /// zeroed words went through an unspecialised `prefix` and `memcpy`: about 100 instructions
    /// a name, a sixth of a `stats` replay.)
    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) {
        let count = bytes.count
        length = count
        guard let base = bytes.baseAddress, count > 0 else {
            first = 0
            second = 0
            return
        }
        @inline(__always) func word(_ offset: Int) -> UInt64 {
            UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        @inline(__always) func half(_ offset: Int) -> UInt64 {
            UInt64(UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        }
        switch count {
        case 16...:
            first = word(0)
            second = word(8)
        case 9...15:
            first = word(0)
            // The last eight bytes, shifted down past the ones the first word already holds.
            second = word(count - 8) >> UInt64(8 * (16 - count))
        case 8:
            first = word(0)
            second = 0
        case 4...7:
            first = half(0) | half(count - 4) << UInt64(8 * (count - 4))
            second = 0
        default:
            var low = UInt64(base.load(as: UInt8.self))
            if count > 1 { low |= UInt64(base.load(fromByteOffset: 1, as: UInt8.self)) << 8 }
            if count > 2 { low |= UInt64(base.load(fromByteOffset: 2, as: UInt8.self)) << 16 }
            first = low
            second = 0
        }
    }

    /// The words of no name (an empty slot).
    static let none = NameWords(first: 0, second: 0, length: -1)

    @usableFromInline
    init(first: UInt64, second: UInt64, length: Int) {
        self.first = first
        self.second = second
        self.length = length
    }

    /// Whether the words hold the whole name.
    @inlinable
    public var isWhole: Bool { length <= 16 }

    /// A multiplicative mix of the words and the length: its high bits pick a table slot.
    @inlinable
    public var mixed: UInt64 { (first ^ (second &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(length)) &* 0x9E37_79B9_7F4A_7C15 }

    /// FNV-1a of all the bytes: the hash for names longer than the words hold, and for index
    /// keys.
    static func fnv1a(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
