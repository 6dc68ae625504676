import COpenSSL

/// A SHA-256 digest, held inline (no heap allocation per event).
public struct Digest: Sendable, Hashable, CustomStringConvertible {
    var words: (UInt64, UInt64, UInt64, UInt64)

    public static let zero = Digest(words: (0, 0, 0, 0))

    init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// Reads 32 bytes; nil when fewer are given.
    public init?<C: Collection>(bytes: C) where C.Element == UInt8 {
        guard bytes.count == 32 else { return nil }
        var w = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var index = 0
        for b in bytes {
            switch index >> 3 {
            case 0: w.0 = w.0 << 8 | UInt64(b)
            case 1: w.1 = w.1 << 8 | UInt64(b)
            case 2: w.2 = w.2 << 8 | UInt64(b)
            default: w.3 = w.3 << 8 | UInt64(b)
            }
            index += 1
        }
        words = w
    }

    /// Reads 32 bytes at `raw` as four big-endian words.
    init(raw: UnsafeRawPointer) {
        words = (UInt64(bigEndian: raw.loadUnaligned(as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self)),
                 UInt64(bigEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self)))
    }

    public init?(hex: String) {
        guard let bytes = [UInt8](hex: hex) else { return nil }
        self.init(bytes: bytes)
    }

    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The 32 bytes, without allocating.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        var bigEndian = (words.0.bigEndian, words.1.bigEndian, words.2.bigEndian, words.3.bigEndian)
        return try Swift.withUnsafeBytes(of: &bigEndian, body)
    }

    public var hex: String { bytes.hexString }
    public var description: String { hex }

    public static func == (a: Digest, b: Digest) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
    }
}

/// SHA-256 through OpenSSL's EVP interface. The algorithm is fetched once and the context
/// reused, which matters on the append path. Not thread-safe: one hasher per thread.
final class SHA256Hasher {
    private let context: OpaquePointer
    private let algorithm: OpaquePointer

    init() throws(StoreError) {
        guard let md = EVP_MD_fetch(nil, "SHA256", nil), let ctx = EVP_MD_CTX_new() else {
            throw StoreError.crypto("OpenSSL could not provide SHA-256")
        }
        algorithm = md
        context = ctx
    }

    deinit {
        EVP_MD_CTX_free(context)
        EVP_MD_free(algorithm)
    }

    /// SHA-256(first ‖ second).
    func digest(_ first: UnsafeRawBufferPointer, _ second: UnsafeRawBufferPointer) -> Digest {
        var out = (UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        var length: UInt32 = 0
        EVP_DigestInit_ex2(context, algorithm, nil)
        EVP_DigestUpdate(context, first.baseAddress, first.count)
        EVP_DigestUpdate(context, second.baseAddress, second.count)
        return Swift.withUnsafeMutableBytes(of: &out) { buffer in
            guard let base = buffer.baseAddress else { return .zero }
            EVP_DigestFinal_ex(context, base.assumingMemoryBound(to: UInt8.self), &length)
            return Digest(raw: UnsafeRawPointer(base))
        }
    }

    func digest(prev: Digest, canonical: UnsafeRawBufferPointer) -> Digest {
        prev.withUnsafeBytes { digest($0, canonical) }
    }

    /// SHA-256 of one buffer.
    func digest(_ data: UnsafeRawBufferPointer) -> Digest {
        digest(data, UnsafeRawBufferPointer(start: nil, count: 0))
    }
}
