import COpenSSL

/// What an OCSP response says of a certificate.
public enum OCSPStatus: String, Sendable, Hashable {
    case good, revoked, unknown
}

/// A DER OCSP response (RFC 6960), stapled or fetched, parsed and verified by OpenSSL at an
/// injected time (not `OCSP_check_validity`, which reads the system clock).
public final class OCSPResponse: @unchecked Sendable {
    // @unchecked: not changed after parsing.
    let response: OpaquePointer
    let basic: OpaquePointer

    /// Reads a DER response; one that is not `successful` or has no basic response is refused.
    public init(der: [UInt8]) throws(CertificateError) {
        guard der.count <= PEM.maximumBytes, let response = der.withUnsafeBufferPointer({ buffer -> OpaquePointer? in
            var cursor = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &cursor, buffer.count)
        }) else {
            ERR_clear_error()
            throw .malformedCertificate
        }
        guard OCSP_response_status(response) == OCSP_RESPONSE_STATUS_SUCCESSFUL, let basic = OCSP_response_get1_basic(response) else {
            OCSP_RESPONSE_free(response)
            ERR_clear_error()
            throw .malformedCertificate
        }
        self.response = response
        self.basic = basic
    }

    deinit {
        OCSP_BASICRESP_free(basic)
        OCSP_RESPONSE_free(response)
    }

    /// The status this response gives `certificate` (issued by `issuer`) at `seconds`, with the
    /// reasons against it: nil status when the response does not cover the certificate or its
    /// signature does not verify (signed by the issuer, or by a responder the issuer delegated
    /// with id-kp-OCSPSigning); stale when thisUpdate or nextUpdate lie beyond `skew` seconds.
    func check(_ certificate: Certificate, issuer: Certificate, at seconds: Int64, skew: Int64) -> (status: OCSPStatus?, reasons: [VerdictReason]) {
        defer { ERR_clear_error() }
        guard verifySignature(issuer: issuer, at: seconds), let entry = entry(for: certificate, issuer: issuer) else { return (nil, [.ocspInvalid]) }
        var reasons: [VerdictReason] = []
        if entry.thisUpdate.map({ $0 > seconds + skew }) ?? true || entry.nextUpdate.map({ $0 < seconds - skew }) ?? false { reasons.append(.ocspStale) }
        switch entry.status {
        case .good: return (.good, reasons)
        case .revoked: return (.revoked, reasons + [.revokedOCSP])
        case .unknown: return (.unknown, reasons + [.ocspUnknown])
        }
    }

    /// When the response's word on `certificate` runs out (nil: no nextUpdate, or it does not
    /// cover the certificate); a cache keeps it until then.
    func nextUpdate(for certificate: Certificate, issuer: Certificate) -> Int64? {
        defer { ERR_clear_error() }
        return entry(for: certificate, issuer: issuer)?.nextUpdate
    }

    /// The single response for the certificate's CertID, unverified.
    private func entry(for certificate: Certificate, issuer: Certificate) -> (status: OCSPStatus, thisUpdate: Int64?, nextUpdate: Int64?)? {
        guard let id = OCSP_cert_to_id(nil, certificate.x509, issuer.x509) else { return nil }
        defer { OCSP_CERTID_free(id) }
        var status: Int32 = -1, reason: Int32 = -1
        var revokedAt: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?, thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
        var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>?
        guard OCSP_resp_find_status(basic, id, &status, &reason, &revokedAt, &thisUpdate, &nextUpdate) == 1 else { return nil }
        let state: OCSPStatus = switch status {
        case V_OCSP_CERTSTATUS_GOOD: .good
        case V_OCSP_CERTSTATUS_REVOKED: .revoked
        default: .unknown
        }
        return (state, thisUpdate.flatMap { epochSeconds(UnsafePointer($0)) }, nextUpdate.flatMap { epochSeconds(UnsafePointer($0)) })
    }

    /// `OCSP_basic_verify` against the issuer alone, at `seconds`.
    private func verifySignature(issuer: Certificate, at seconds: Int64) -> Bool {
        guard let store = X509_STORE_new() else { return false }
        defer { X509_STORE_free(store) }
        X509_STORE_add_cert(store, issuer.x509)
        // The issuer is the anchor of the responder's chain, whether or not it is a root.
        X509_VERIFY_PARAM_set_flags(X509_STORE_get0_param(store), UInt(X509_V_FLAG_PARTIAL_CHAIN))
        X509_VERIFY_PARAM_set_time(X509_STORE_get0_param(store), time_t(seconds))
        let certificates = OPENSSL_sk_new_null()
        defer { OPENSSL_sk_free(certificates) }
        OPENSSL_sk_push(certificates, UnsafeRawPointer(issuer.x509))
        return OCSP_basic_verify(basic, certificates, store, 0) == 1
    }
}
