import COpenSSL

/// Why a certificate chain is not an X509-SVID (the SPIFFE X509-SVID standard's rules, with the
/// reference implementation's error classes).
public enum SVIDError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreadableCertificates(CertificateError)
    case unreadablePrivateKey(CertificateError)
    case noCertificates
    case noPrivateKey
    case keyMismatch
    case noURISAN
    case severalURISANs(Int)
    case invalidSPIFFEID(SPIFFEIDError)
    /// A workload's ID needs a path; the trust domain's own ID names no workload.
    case rootPath
    case leafIsCA
    case leafWithoutDigitalSignature
    case leafWithKeyCertSign
    case leafWithCRLSign
    case leafWithoutKeyUsage
    case leafExtendedKeyUsage
    case signingNotCA
    case signingWithoutKeyCertSign
    case signingIDWithPath

    public var description: String {
        switch self {
        case .unreadableCertificates(let error): return "cannot parse PEM encoded certificate: \(error)"
        case .unreadablePrivateKey(let error): return "cannot parse PEM encoded private key: \(error)"
        case .noCertificates: return "no certificates found"
        case .noPrivateKey: return "no private key found"
        case .keyMismatch: return "leaf certificate does not match private key"
        case .noURISAN: return "certificate contains no URI SAN"
        case .severalURISANs(let n): return "certificate contains \(n) URI SANs; an X509-SVID has exactly one"
        case .invalidSPIFFEID(let error): return "invalid SPIFFE ID: \(error)"
        case .rootPath: return "a workload's SPIFFE ID must have a path"
        case .leafIsCA: return "leaf certificate must not have CA flag set to true"
        case .leafWithoutDigitalSignature: return "leaf certificate must have 'digitalSignature' set as key usage"
        case .leafWithKeyCertSign: return "leaf certificate must not have 'keyCertSign' set as key usage"
        case .leafWithCRLSign: return "leaf certificate must not have 'cRLSign' set as key usage"
        case .leafWithoutKeyUsage: return "leaf certificate must have the key usage extension"
        case .leafExtendedKeyUsage: return "leaf certificate's extended key usage must include serverAuth and clientAuth"
        case .signingNotCA: return "signing certificate must have CA flag set to true"
        case .signingWithoutKeyCertSign: return "signing certificate must have 'keyCertSign' set as key usage"
        case .signingIDWithPath: return "a signing certificate's SPIFFE ID must have no path"
        }
    }
}

/// The shape rules of an X509-SVID, independent of chain and time.
public enum X509SVID {
    /// The leaf's SPIFFE ID when `chain` (leaf first, then its signing certificates) has the
    /// shape of an X509-SVID; the first rule broken otherwise.
    public static func check(_ chain: [Certificate]) throws(SVIDError) -> SPIFFEID {
        guard let leaf = chain.first else { throw .noCertificates }
        let id = try spiffeID(of: leaf)
        guard !id.isTrustDomainID else { throw .rootPath }
        guard !leaf.isCA else { throw .leafIsCA }
        guard let usage = leaf.keyUsage else { throw .leafWithoutKeyUsage }
        guard usage & UInt32(KU_DIGITAL_SIGNATURE) != 0 else { throw .leafWithoutDigitalSignature }
        guard usage & UInt32(KU_KEY_CERT_SIGN) == 0 else { throw .leafWithKeyCertSign }
        guard usage & UInt32(KU_CRL_SIGN) == 0 else { throw .leafWithCRLSign }
        if let extended = leaf.extendedKeyUsage {
            let both = UInt32(XKU_SSL_SERVER) | UInt32(XKU_SSL_CLIENT)
            guard extended & both == both else { throw .leafExtendedKeyUsage }
        }
        for signer in chain.dropFirst() {
            guard signer.isCA else { throw .signingNotCA }
            guard let usage = signer.keyUsage, usage & UInt32(KU_KEY_CERT_SIGN) != 0 else { throw .signingWithoutKeyCertSign }
            if let uri = signer.uriNames.first, let signerID = try? SPIFFEID(parsing: uri), !signerID.isTrustDomainID {
                throw .signingIDWithPath
            }
        }
        return id
    }

    /// The SPIFFE ID of a certificate's one URI SAN.
    public static func spiffeID(of certificate: Certificate) throws(SVIDError) -> SPIFFEID {
        let uris = certificate.uriNames
        guard !uris.isEmpty else { throw .noURISAN }
        guard uris.count == 1 else { throw .severalURISANs(uris.count) }
        do { return try SPIFFEID(parsing: uris[0]) } catch { throw .invalidSPIFFEID(error) }
    }

    /// An SVID from PEM certificates and a PEM private key (which may share one file): read,
    /// shape-checked, and the key matched to the leaf.
    public static func parse(certificates: [UInt8], key: [UInt8]) throws(SVIDError) -> (id: SPIFFEID, chain: [Certificate], key: PrivateKey) {
        let chain: [Certificate]
        do { chain = try PEM.certificates(certificates) } catch { throw .unreadableCertificates(error) }
        let privateKey: PrivateKey?
        do { privateKey = try PEM.privateKey(key) } catch { throw .unreadablePrivateKey(error) }
        let id = try check(chain)
        guard let privateKey else { throw .noPrivateKey }
        guard chain[0].matches(privateKey) else { throw .keyMismatch }
        return (id, chain, privateKey)
    }
}
