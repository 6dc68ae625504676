import COpenSSL
import Foundation

/// A detached Ed25519 signature (OpenSSL) over an export's bytes and its chain head, kept beside
/// it as `FILE.sig`: who holds the public key can tell the slice came from the key's holder as
/// it is, on top of what the chain shows line by line. Keys come from `openssl genpkey -algorithm ed25519`.
public struct ExportSignature: Sendable, Hashable {
    /// SHA-256 of the export file's bytes.
    public var sha256: Digest
    /// The last line's seq and hash.
    public var head: Anchor
    public var signature: [UInt8]

    /// What is signed: both facts in one line each, under a version word.
    static func message(sha256: Digest, head: Anchor) -> [UInt8] {
        Array("recovery-export-signature-v1\nsha256 \(sha256.hex)\nhead \(head)\n".utf8)
    }

    /// Signs with an Ed25519 private key in PEM.
    public static func sign(sha256: Digest, head: Anchor, privateKeyPEM: [UInt8]) throws(ExportSignatureError) -> ExportSignature {
        let key = try Ed25519Key(pem: privateKeyPEM, private: true)
        let message = Self.message(sha256: sha256, head: head)
        guard let context = EVP_MD_CTX_new() else { throw .crypto("no digest context") }
        defer { EVP_MD_CTX_free(context) }
        var length = 0
        guard EVP_DigestSignInit(context, nil, nil, nil, key.pkey) == 1,
              EVP_DigestSign(context, nil, &length, message, message.count) == 1 else { throw .crypto(Ed25519Key.lastError()) }
        var signature = [UInt8](repeating: 0, count: length)
        guard EVP_DigestSign(context, &signature, &length, message, message.count) == 1 else { throw .crypto(Ed25519Key.lastError()) }
        return ExportSignature(sha256: sha256, head: head, signature: Array(signature.prefix(length)))
    }

    /// Whether the signature verifies with an Ed25519 public key in PEM.
    public func verifies(publicKeyPEM: [UInt8]) throws(ExportSignatureError) -> Bool {
        let key = try Ed25519Key(pem: publicKeyPEM, private: false)
        let message = Self.message(sha256: sha256, head: head)
        guard let context = EVP_MD_CTX_new() else { throw .crypto("no digest context") }
        defer {
            EVP_MD_CTX_free(context)
            ERR_clear_error()
        }
        guard EVP_DigestVerifyInit(context, nil, nil, nil, key.pkey) == 1 else { throw .crypto(Ed25519Key.lastError()) }
        return EVP_DigestVerify(context, signature, signature.count, message, message.count) == 1
    }

    /// Refuses a PEM that holds no Ed25519 public key.
    public static func checkPublicKey(_ pem: [UInt8]) throws(ExportSignatureError) { _ = try Ed25519Key(pem: pem, private: false) }

    /// The `.sig` file: one JSON object.
    public var json: String {
        JSONWriter.encode(["format": "recovery-export-signature", "version": 1, "algorithm": "ed25519", "sha256": .string(sha256.hex),
                           "head": .string(head.description), "signature": .string(Data(signature).base64EncodedString())])
    }

    /// Reads a `.sig` file.
    public init(json bytes: [UInt8]) throws(ExportSignatureError) {
        guard bytes.count <= 4_096, let value = try? JSONParser.parse(bytes), value["format"] == "recovery-export-signature",
              value["version"] == 1, value["algorithm"] == "ed25519",
              let digest = value["sha256"]?.stringValue.flatMap(Digest.init(hex:)),
              let head = value["head"]?.stringValue.flatMap(Anchor.init),
              let signature = value["signature"]?.stringValue.flatMap({ Data(base64Encoded: $0) }), signature.count == 64 else {
            throw .malformed("not a recovery export signature (format, version 1, ed25519, sha256, head, a 64-byte signature)")
        }
        self.init(sha256: digest, head: head, signature: Array(signature))
    }

    public init(sha256: Digest, head: Anchor, signature: [UInt8]) {
        self.sha256 = sha256
        self.head = head
        self.signature = signature
    }
}

public enum ExportSignatureError: Error, Sendable, Hashable, CustomStringConvertible {
    case malformed(String)
    /// The PEM holds no key, or not an Ed25519 one.
    case badKey(String)
    case crypto(String)

    public var description: String {
        switch self {
        case .malformed(let message): return message
        case .badKey(let message): return message
        case .crypto(let message): return "OpenSSL: \(message)"
        }
    }
}

/// An Ed25519 key read from PEM by OpenSSL.
final class Ed25519Key {
    let pkey: OpaquePointer

    init(pem: [UInt8], private isPrivate: Bool) throws(ExportSignatureError) {
        guard pem.count <= 64 << 10 else { throw .badKey("a key file of \(pem.count) bytes") }
        let read = pem.withUnsafeBytes { buffer -> OpaquePointer? in
            guard let bio = BIO_new_mem_buf(buffer.baseAddress, Int32(buffer.count)) else { return nil }
            defer { BIO_free(bio) }
            return isPrivate ? PEM_read_bio_PrivateKey(bio, nil, nil, nil) : PEM_read_bio_PUBKEY(bio, nil, nil, nil)
        }
        guard let read else {
            ERR_clear_error()
            throw .badKey("no \(isPrivate ? "private" : "public") key in PEM")
        }
        guard EVP_PKEY_get_id(read) == NID_ED25519 else {
            EVP_PKEY_free(read)
            throw .badKey("not an Ed25519 key (make one with: openssl genpkey -algorithm ed25519)")
        }
        pkey = read
    }

    deinit { EVP_PKEY_free(pkey) }

    static func lastError() -> String {
        let code = ERR_get_error()
        ERR_clear_error()
        guard code != 0, let text = ERR_reason_error_string(code) else { return "failed" }
        return String(cString: text)
    }
}

/// SHA-256 over bytes fed in pieces: a file of any size hashed as it is read.
public final class StreamingSHA256 {
    private let context: OpaquePointer

    public init() throws(StoreError) {
        guard let context = EVP_MD_CTX_new(), EVP_DigestInit_ex(context, EVP_sha256(), nil) == 1 else {
            throw StoreError.crypto("OpenSSL could not provide SHA-256")
        }
        self.context = context
    }

    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: [UInt8]) { _ = EVP_DigestUpdate(context, bytes, bytes.count) }

    public func update(_ bytes: UnsafeRawBufferPointer) { _ = EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }

    public func finish() -> Digest {
        var out = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        _ = EVP_DigestFinal_ex(context, &out, &length)
        return Digest(bytes: out) ?? .zero  // 32 bytes: always a digest
    }
}
