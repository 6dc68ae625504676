import COpenSSL
import Foundation

/// Why certificate or key bytes could not be read.
public enum CertificateError: Error, Sendable, Hashable, CustomStringConvertible {
    case noPEMBlocks
    case malformedCertificate
    case malformedPrivateKey
    case noCertificates
    case noPrivateKey
    case tooLarge(bytes: Int)

    public var description: String {
        switch self {
        case .noPEMBlocks: return "no PEM blocks found"
        case .malformedCertificate: return "malformed certificate"
        case .malformedPrivateKey: return "malformed private key"
        case .noCertificates: return "no certificates found"
        case .noPrivateKey: return "no private key found"
        case .tooLarge(let bytes): return "\(bytes) bytes; PEM input is at most \(PEM.maximumBytes)"
        }
    }
}

/// An X.509 certificate held by OpenSSL (parsing is OpenSSL's; nothing here reads ASN.1).
public final class Certificate: @unchecked Sendable {
    // @unchecked: the X509 object is not changed after parsing; OpenSSL's reads are thread-safe.
    let x509: OpaquePointer

    init(taking x509: OpaquePointer) { self.x509 = x509 }

    deinit { X509_free(x509) }

    /// Reads one DER certificate, which must use every byte.
    public convenience init(der: [UInt8]) throws(CertificateError) {
        guard let x509 = decodeDER(der, { d2i_X509(nil, $0, $1) }, free: X509_free) else { throw .malformedCertificate }
        self.init(taking: x509)
    }

    /// The URI subject alternative names, in order.
    public var uriNames: [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var out: [String] = []
        for index in 0..<OPENSSL_sk_num(names) {
            guard let name = OPENSSL_sk_value(names, index)?.assumingMemoryBound(to: GENERAL_NAME.self).pointee,
                  name.type == GEN_URI, let string = name.d.uniformResourceIdentifier,
                  let data = ASN1_STRING_get0_data(string) else { continue }
            out.append(String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))), as: UTF8.self))
        }
        return out
    }

    /// basicConstraints cA.
    public var isCA: Bool {
        guard let raw = X509_get_ext_d2i(x509, NID_basic_constraints, nil, nil) else { return false }
        let constraints = raw.assumingMemoryBound(to: BASIC_CONSTRAINTS.self)
        defer { BASIC_CONSTRAINTS_free(constraints) }
        return constraints.pointee.ca != 0
    }

    /// The keyUsage bits (`KU_*`), nil when the extension is absent.
    public var keyUsage: UInt32? {
        let usage = X509_get_key_usage(x509)
        return usage == UInt32.max ? nil : usage
    }

    /// The extendedKeyUsage bits (`XKU_*`), nil when the extension is absent.
    public var extendedKeyUsage: UInt32? {
        let usage = X509_get_extended_key_usage(x509)
        return usage == UInt32.max ? nil : usage
    }

    /// The validity window, in seconds since the epoch (nil when OpenSSL cannot read a time).
    public var notBefore: Int64? { epochSeconds(X509_get0_notBefore(x509)) }
    public var notAfter: Int64? { epochSeconds(X509_get0_notAfter(x509)) }

    /// The serial number in upper-case hexadecimal.
    public var serial: String {
        guard let integer = X509_get_serialNumber(x509), let number = ASN1_INTEGER_to_BN(integer, nil) else { return "" }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else { return "" }
        defer { CRYPTO_free(hex, #file, #line) }
        return String(cString: hex)
    }

    /// The `pin-sha256` of the certificate's public key (RFC 7469): base64 of the SHA-256 of
    /// its DER SubjectPublicKeyInfo.
    public var spkiPin: String {
        // The certificate's own SubjectPublicKeyInfo, re-encoded as parsed (i2d_PUBKEY would
        // go through the provider's encoder, forty times slower).
        var buffer: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x509), &buffer)
        guard length > 0, let buffer else { return "" }
        defer { CRYPTO_free(buffer, #file, #line) }
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        SHA256(buffer, Int(length), &digest)
        return Data(digest).base64EncodedString()
    }

    /// The DER encoding.
    public var der: [UInt8] {
        var buffer: UnsafeMutablePointer<UInt8>?
        let length = i2d_X509(x509, &buffer)
        guard length > 0, let buffer else { return [] }
        defer { CRYPTO_free(buffer, #file, #line) }
        return Array(UnsafeBufferPointer(start: buffer, count: Int(length)))
    }

    /// The signature algorithm's short name (`ecdsa-with-SHA256`, `sha256WithRSAEncryption`).
    public var signatureAlgorithm: String {
        guard let name = OBJ_nid2ln(X509_get_signature_nid(x509)) else { return "unknown" }
        return String(cString: name)
    }

    /// Whether `key` is the private key of this certificate's public key.
    public func matches(_ key: PrivateKey) -> Bool { X509_check_private_key(x509, key.pkey) == 1 }
}

/// A private key held by OpenSSL.
public final class PrivateKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(taking pkey: OpaquePointer) { self.pkey = pkey }

    deinit { EVP_PKEY_free(pkey) }
}

/// PEM input: blocks by type, decoded by OpenSSL.
public enum PEM {
    /// Larger PEM input is refused before it is read.
    public static let maximumBytes = 1 << 20

    /// The (type, DER) blocks of `bytes`; none is `noPEMBlocks`.
    public static func blocks(_ bytes: [UInt8]) throws(CertificateError) -> [(type: String, der: [UInt8])] {
        guard bytes.count <= maximumBytes else { throw .tooLarge(bytes: bytes.count) }
        var blocks: [(String, [UInt8])] = []
        bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { return }
            defer { BIO_free(bio) }
            while true {
                var name: UnsafeMutablePointer<CChar>?, header: UnsafeMutablePointer<CChar>?, data: UnsafeMutablePointer<UInt8>?
                var length = 0
                guard PEM_read_bio(bio, &name, &header, &data, &length) == 1 else { break }
                let type = name.map { String(cString: $0) } ?? ""
                let der = data.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? []
                CRYPTO_free(name, #file, #line)
                CRYPTO_free(header, #file, #line)
                CRYPTO_free(data, #file, #line)
                blocks.append((type, der))
            }
            ERR_clear_error()
        }
        guard !blocks.isEmpty else { throw .noPEMBlocks }
        return blocks
    }

    /// Every CERTIFICATE block, in order.
    public static func certificates(_ bytes: [UInt8]) throws(CertificateError) -> [Certificate] {
        var out: [Certificate] = []
        for block in try blocks(bytes) where block.type == "CERTIFICATE" { out.append(try Certificate(der: block.der)) }
        return out
    }

    /// The first private key block (PKCS#8 `PRIVATE KEY`, or `RSA`/`EC PRIVATE KEY`); nil when there is none.
    public static func privateKey(_ bytes: [UInt8]) throws(CertificateError) -> PrivateKey? {
        for block in try blocks(bytes) where block.type.hasSuffix("PRIVATE KEY") {
            let key = block.der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor = buffer.baseAddress
                return d2i_AutoPrivateKey(nil, &cursor, buffer.count)
            }
            ERR_clear_error()
            guard let key else { throw .malformedPrivateKey }
            return PrivateKey(taking: key)
        }
        return nil
    }
}
