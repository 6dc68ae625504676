/// A name read as bytes, the way the name caches of scans and the tallies of replays compare
/// and place it without building a `String`: its first sixteen bytes as two machine words
/// (zero-padded) and its length. For names of up to 16 bytes (most types, nodes and streams)
/// equal words mean equal names; longer ones also need their bytes compared.
public struct NameWords: Equatable, Sendable {
    public let first: UInt64
    public let second: UInt64
    public let length: Int

    @inlinable
    public init(_ bytes: UnsafeRawBufferPointer) {
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes.prefix(16))) }
        first = words.0
        second = words.1
        length = bytes.count
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
