import COpenSSL

/// What a chain must be good for in the generic profile, checked by OpenSSL (x509-limbo's
/// harness does the same): the leaf's purpose, the name it must carry and the longest path.
public struct ChainRequirements: Sendable, Hashable {
    public enum Purpose: Sendable, Hashable { case serverAuth, clientAuth }
    public enum PeerName: Sendable, Hashable { case dns(String), ip(String) }

    public var purpose: Purpose?
    public var peerName: PeerName?
    /// The most intermediates allowed between the leaf and the anchor.
    public var maxDepth: Int?

    public init(purpose: Purpose? = nil, peerName: PeerName? = nil, maxDepth: Int? = nil) {
        self.purpose = purpose
        self.peerName = peerName
        self.maxDepth = maxDepth
    }

    /// Sets these requirements on OpenSSL's verification parameters.
    func apply(to parameters: OpaquePointer) {
        switch purpose {
        case .serverAuth: X509_VERIFY_PARAM_set_purpose(parameters, X509_PURPOSE_SSL_SERVER)
        case .clientAuth: X509_VERIFY_PARAM_set_purpose(parameters, X509_PURPOSE_SSL_CLIENT)
        case nil: break
        }
        switch peerName {
        case .dns(let host): X509_VERIFY_PARAM_set1_host(parameters, host, host.utf8.count)
        case .ip(let address): X509_VERIFY_PARAM_set1_ip_asc(parameters, address)
        case nil: break
        }
        if let maxDepth { X509_VERIFY_PARAM_set_depth(parameters, Int32(clamping: maxDepth)) }
    }
}

extension ChainValidator {
    /// `X509_verify_cert` at `seconds`, naming every failed check. A first pass stops at the
    /// first error, which lets OpenSSL try alternative chains (a cross-signed path); only a
    /// chain that fails is verified again, going on past each error to name them all.
    static func verify(leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], requirements: ChainRequirements,
                       at seconds: Int64) -> [VerdictReason] {
        let first = verify(leaf: leaf, intermediates: intermediates, anchors: anchors, requirements: requirements, at: seconds, collectAll: false)
        guard !first.passed else { return [] }
        let all = verify(leaf: leaf, intermediates: intermediates, anchors: anchors, requirements: requirements, at: seconds, collectAll: true)
        return all.reasons.isEmpty ? first.reasons : all.reasons
    }

    private static func verify(leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], requirements: ChainRequirements,
                               at seconds: Int64, collectAll: Bool) -> (passed: Bool, reasons: [VerdictReason]) {
        guard let store = X509_STORE_new(), let context = X509_STORE_CTX_new() else { return (false, [.untrustedChain]) }
        defer {
            X509_STORE_CTX_free(context)
            X509_STORE_free(store)
        }
        for anchor in anchors { X509_STORE_add_cert(store, anchor.x509) }
        let untrusted = OPENSSL_sk_new_null()
        defer { OPENSSL_sk_free(untrusted) }
        for certificate in intermediates { OPENSSL_sk_push(untrusted, UnsafeRawPointer(certificate.x509)) }
        guard X509_STORE_CTX_init(context, store, leaf.x509, untrusted) == 1,
              let parameters = X509_STORE_CTX_get0_param(context) else { return (false, [.untrustedChain]) }
        X509_VERIFY_PARAM_set_time(parameters, time_t(seconds))
        // A bundle's certificate is a trust anchor (RFC 5280 6.1.1 d) whether or not it is
        // self-signed; without this OpenSSL looks on for a root above it. X509_STRICT adds
        // RFC 5280's checks OpenSSL leaves out by default (critical basicConstraints on CAs,
        // key identifiers, keyCertSign only on CAs, non-empty names).
        X509_VERIFY_PARAM_set_flags(parameters, UInt(X509_V_FLAG_PARTIAL_CHAIN | X509_V_FLAG_X509_STRICT))
        requirements.apply(to: parameters)
        let collector = ErrorCollector(validationTime: seconds, collectAll: collectAll)
        let box = Unmanaged.passRetained(collector)
        defer { box.release() }
        X509_STORE_CTX_set_ex_data(context, 0, box.toOpaque())
        X509_STORE_CTX_set_verify_cb(context) { ok, context in
            guard ok == 0, let context, let raw = X509_STORE_CTX_get_ex_data(context, 0) else { return ok }
            let collector = Unmanaged<ErrorCollector>.fromOpaque(raw).takeUnretainedValue()
            return collector.record(X509_STORE_CTX_get_error(context), certificate: X509_STORE_CTX_get_current_cert(context)) ? 1 : 0
        }
        let passed = X509_verify_cert(context) == 1
        ERR_clear_error()
        return (passed, collector.reasons)
    }
}

/// Collects the errors of one verification from OpenSSL's callback.
final class ErrorCollector {
    let validationTime: Int64
    /// Go on past errors (to name them all) rather than stop at the first.
    let collectAll: Bool
    var reasons: [VerdictReason] = []

    init(validationTime: Int64, collectAll: Bool) {
        self.validationTime = validationTime
        self.collectAll = collectAll
    }

    /// Records an error; whether verification goes on.
    func record(_ code: Int32, certificate: OpaquePointer?) -> Bool {
        switch code {
        case X509_V_ERR_CERT_HAS_EXPIRED:
            // RFC 5280 4.1.2.5: valid through notAfter inclusive; OpenSSL calls it expired.
            if let certificate, epochSeconds(X509_get0_notAfter(certificate)) == validationTime { return true }
            reasons.append(.expired)
        case X509_V_ERR_CA_CERT_MISSING_KEY_USAGE:
            // X509_STRICT's demand; RFC 5280 4.2.1.3 lets a CA without keyUsage sign (x509-limbo
            // crl::issuer-no-keyusage-extension).
            return true
        case X509_V_ERR_CERT_NOT_YET_VALID: reasons.append(.notYetValid)
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH: reasons.append(.nameMismatch)
        case X509_V_ERR_INVALID_PURPOSE, X509_V_ERR_KU_KEY_CERT_SIGN_INVALID_FOR_NON_CA: reasons.append(.badKeyUsage)
        default: reasons.append(.untrustedChain)
        }
        return collectAll
    }
}
