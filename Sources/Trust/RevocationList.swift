import COpenSSL
import EventStore

/// A certificate revocation list (PEM or DER), parsed by OpenSSL.
public final class RevocationList: @unchecked Sendable {
    // @unchecked: the CRL is not changed after parsing; `verifiedBy` is guarded by `lock`.
    let crl: OpaquePointer
    private let lock = Mutex()
    /// Issuers whose key the signature was verified with: it cannot change, so each is
    /// checked once rather than on every validation.
    private var verifiedBy: [Certificate] = []

    init(taking crl: OpaquePointer) { self.crl = crl }

    deinit { X509_CRL_free(crl) }

    /// Reads a CRL in PEM (the first `X509 CRL` block) or DER.
    public convenience init(bytes: [UInt8]) throws(CertificateError) {
        if let block = (try? PEM.blocks(bytes))?.first(where: { $0.type == "X509 CRL" }) {
            try self.init(der: block.der)
        } else {
            try self.init(der: bytes)
        }
    }

    public convenience init(der: [UInt8]) throws(CertificateError) {
        guard der.count <= PEM.maximumBytes * 16 else { throw .tooLarge(bytes: der.count) }
        guard let crl = decodeDER(der, { d2i_X509_CRL(nil, $0, $1) }, free: X509_CRL_free) else { throw .malformedCertificate }
        self.init(taking: crl)
    }

    /// Whether the CRL was issued by the subject of `issuer`.
    func isIssued(by issuer: Certificate) -> Bool {
        X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer.x509)) == 0
    }

    /// The reasons this CRL gives against `certificate` (issued by `issuer`) at `seconds`:
    /// revoked, stale (nextUpdate passed or thisUpdate ahead), or invalid (a bad signature, a
    /// missing or critical CRL number, an issuer whose keyUsage leaves out cRLSign).
    func check(_ certificate: Certificate, issuer: Certificate, at seconds: Int64) -> [VerdictReason] {
        var reasons: [VerdictReason] = []
        guard isSigned(by: issuer) else { return [.crlInvalid] }
        if !hasCRLNumber || !issuer.maySignCRLs { reasons.append(.crlInvalid) }
        let thisUpdate = epochSeconds(X509_CRL_get0_lastUpdate(crl))
        let nextUpdate = epochSeconds(X509_CRL_get0_nextUpdate(crl))
        if nextUpdate.map({ $0 < seconds }) ?? true || thisUpdate.map({ $0 > seconds }) ?? true { reasons.append(.crlStale) }
        var entry: OpaquePointer?
        if X509_CRL_get0_by_serial(crl, &entry, X509_get_serialNumber(certificate.x509)) == 1 { reasons.append(.revokedCRL) }
        ERR_clear_error()
        return reasons
    }

    /// Whether the CRL's signature verifies with `issuer`'s key.
    func isSigned(by issuer: Certificate) -> Bool {
        if lock.withLock({ verifiedBy.contains { X509_cmp($0.x509, issuer.x509) == 0 } }) { return true }
        guard let key = X509_get0_pubkey(issuer.x509), X509_CRL_verify(crl, key) == 1 else {
            ERR_clear_error()
            return false
        }
        lock.withLock { verifiedBy.append(issuer) }
        return true
    }

    /// RFC 5280 5.2.3: conforming CRLs carry a CRL number, marked non-critical (OpenSSL checks
    /// neither).
    var hasCRLNumber: Bool {
        let index = X509_CRL_get_ext_by_NID(crl, NID_crl_number, -1)
        guard index >= 0, let extensionField = X509_CRL_get_ext(crl, index) else { return false }
        return X509_EXTENSION_get_critical(extensionField) == 0
    }
}

extension Certificate {
    /// RFC 5280 4.2.1.3: a CRL issuer with a keyUsage extension must assert cRLSign; one
    /// without the extension may sign CRLs.
    var maySignCRLs: Bool { keyUsage.map { $0 & UInt32(KU_CRL_SIGN) != 0 } ?? true }
}
