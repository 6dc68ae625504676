import COpenSSL
import EventStore

/// A reason a certificate was not trusted (EVENTS.md's `cert.verdict` reasons).
public enum VerdictReason: String, Sendable, Hashable, Codable, CaseIterable {
    case expired = "expired"
    case notYetValid = "not_yet_valid"
    case untrustedChain = "untrusted_chain"
    case invalidSPIFFEID = "invalid_spiffe_id"
    case unknownTrustDomain = "unknown_trust_domain"
    case leafIsCA = "leaf_is_ca"
    case badKeyUsage = "bad_key_usage"
    case revokedCRL = "revoked_crl"
    case crlStale = "crl_stale"
    case crlInvalid = "crl_invalid"
    case revokedOCSP = "revoked_ocsp"
    case ocspUnknown = "ocsp_unknown"
    case ocspStale = "ocsp_stale"
    /// A response that does not verify or does not cover the certificate.
    case ocspInvalid = "ocsp_invalid"
    case pinMismatch = "pin_mismatch"
    /// A pin set with no backup pin outside the presented chain (RFC 7469 requires one): a
    /// configuration error, shown in the verdict.
    case pinWithoutBackup = "pin_without_backup"
    /// The leaf does not carry the DNS name or IP address asked for (generic profile).
    case nameMismatch = "name_mismatch"
    /// No OCSP responder answered and the policy is hard-fail (with soft-fail the verdict
    /// records the check as skipped instead).
    case ocspUnreachable = "ocsp_unreachable"
}

/// SPKI SHA-256 pins (`pin-sha256` base64) for a SPIFFE ID or a trust domain.
public struct PinSet: Sendable, Hashable {
    public var pins: Set<String>
    /// After this time the set no longer applies.
    public var expires: Timestamp?

    public init(pins: Set<String>, expires: Timestamp? = nil) {
        self.pins = pins
        self.expires = expires
    }
}

/// The outcome of validating one chain: the leaf's SPIFFE ID when it has one, and every
/// check that failed (none: trusted).
public struct ChainResult: Sendable, Hashable {
    public var id: SPIFFEID?
    public var reasons: [VerdictReason]
    /// Whether a CRL covered the leaf (or, with `crlWholeChain`, every certificate).
    public var crlChecked = false
    /// Whether a pin set applied.
    public var pinChecked = false
    /// What the OCSP response said of the leaf (nil when none applied).
    public var ocspStatus: OCSPStatus?
    public var ocspChecked = false
    /// How a fetched response was obtained (url, source, nonce, policy, error), when one was.
    public var ocspFetch: [String: String]?
    /// The responder could not be reached (under soft-fail this is not a reason).
    public var ocspUnreachable = false
    public var trusted: Bool { reasons.isEmpty }
}

/// Validates X509-SVID chains against per-trust-domain bundles at an injected time: OpenSSL's
/// `X509_verify_cert` with the time set on its parameters (never the system clock), plus the
/// SPIFFE shape rules, and stricter than OpenSSL where RFC 5280 is: a certificate is valid at
/// exactly its notAfter (4.1.2.5).
public struct ChainValidator: Sendable {
    /// Trust domain -> its bundle's certificates.
    public var bundles: [String: [Certificate]]
    /// false checks only the chain (the generic profile: no SPIFFE rules).
    public var spiffeRules = true
    /// Revocation lists, matched to certificates by issuer.
    public var crls: [RevocationList] = []
    /// Check every certificate of the chain against its issuer's CRL, not only the leaf.
    public var crlWholeChain = false
    /// OCSP responses (stapled or fetched) for the leaf.
    public var ocspResponses: [OCSPResponse] = []
    /// How far thisUpdate may lie ahead of, and nextUpdate behind, the validation time.
    public var ocspSkewSeconds: Int64 = 300
    /// Pin sets by SPIFFE ID or trust domain (the ID's own set wins).
    public var pins: [String: PinSet] = [:]
    /// Purpose, peer name and depth, checked in either profile.
    public var requirements = ChainRequirements()

    public init(bundles: [String: [Certificate]]) { self.bundles = bundles }

    /// The certificate among `intermediates` and the bundles that issued `certificate`.
    public func issuer(of certificate: Certificate, intermediates: [Certificate] = []) -> Certificate? {
        (intermediates + bundles.values.flatMap { $0 }).first { X509_check_issued($0.x509, certificate.x509) == X509_V_OK }
    }

    /// Validates `leaf` with the `intermediates` it presented, at `time`; `fetched` is what an
    /// `OCSPFetcher` gave for it, checked beside any stapled responses.
    public func validate(leaf: Certificate, intermediates: [Certificate] = [], at time: Timestamp, fetched: OCSPFetch? = nil) -> ChainResult {
        var reasons: [VerdictReason] = []
        var id: SPIFFEID?
        var anchors: [Certificate] = bundles.values.flatMap { $0 }
        if spiffeRules {
            do {
                id = try X509SVID.check([leaf] + intermediates)
            } catch {
                switch error {
                case .noURISAN, .severalURISANs, .invalidSPIFFEID, .rootPath, .signingIDWithPath: reasons.append(.invalidSPIFFEID)
                case .leafIsCA: reasons.append(.leafIsCA)
                default: reasons.append(.badKeyUsage)
                }
                id = try? X509SVID.spiffeID(of: leaf)
            }
            if let domain = id?.trustDomain {
                guard let bundle = bundles[domain] else { return ChainResult(id: id, reasons: reasons + [.unknownTrustDomain]) }
                anchors = bundle
            }
        }
        reasons += Self.verify(leaf: leaf, intermediates: intermediates, anchors: anchors, requirements: requirements, at: time.seconds)
        let (crlReasons, crlChecked) = revocation(of: leaf, intermediates: intermediates, anchors: anchors, at: time.seconds)
        reasons += crlReasons
        var responses = ocspResponses
        switch fetched?.outcome {
        case .response(let response): responses.append(response)
        case .invalid: reasons.append(.ocspInvalid)
        case .unreachable: if fetched?.softFail == false { reasons.append(.ocspUnreachable) }
        case nil: break
        }
        let (ocspStatus, ocspReasons) = ocsp(responses, of: leaf, issuers: intermediates + anchors, at: time.seconds)
        reasons += ocspReasons
        let (pinReasons, pinChecked) = pinning(id, chain: [leaf] + intermediates, at: time)
        reasons += pinReasons
        var unique: [VerdictReason] = []
        for reason in reasons where !unique.contains(reason) { unique.append(reason) }
        var unreachable = false
        if case .unreachable = fetched?.outcome { unreachable = true }
        return ChainResult(id: id, reasons: unique, crlChecked: crlChecked, pinChecked: pinChecked, ocspStatus: ocspStatus,
                           ocspChecked: !responses.isEmpty || fetched != nil, ocspFetch: fetched?.record, ocspUnreachable: unreachable)
    }

    /// The leaf's status from the first response that covers it and verifies, and the reasons.
    func ocsp(_ responses: [OCSPResponse], of leaf: Certificate, issuers: [Certificate], at seconds: Int64) -> (OCSPStatus?, [VerdictReason]) {
        guard !responses.isEmpty else { return (nil, []) }
        guard let issuer = issuers.first(where: { X509_check_issued($0.x509, leaf.x509) == X509_V_OK }) else { return (nil, [.ocspInvalid]) }
        var reasons: [VerdictReason] = [.ocspInvalid]
        for response in responses {
            let (status, found) = response.check(leaf, issuer: issuer, at: seconds, skew: ocspSkewSeconds)
            if let status { return (status, found) }
            reasons = found
        }
        ERR_clear_error()
        return (nil, reasons)
    }

    /// The pin reasons for the presented chain; whether a pin set applied (one that expired
    /// does not).
    func pinning(_ id: SPIFFEID?, chain: [Certificate], at time: Timestamp) -> ([VerdictReason], Bool) {
        guard let id, let set = pins[id.description] ?? pins[id.trustDomain], set.expires.map({ time <= $0 }) ?? true else { return ([], false) }
        let presented = Set(chain.map(\.spkiPin))
        guard !set.pins.isSubset(of: presented) else { return ([.pinWithoutBackup], true) }
        return (set.pins.isDisjoint(with: presented) ? [.pinMismatch] : [], true)
    }

    /// The CRL reasons against the leaf (and the chain when configured); whether any CRL applied.
    func revocation(of leaf: Certificate, intermediates: [Certificate], anchors: [Certificate], at seconds: Int64) -> ([VerdictReason], Bool) {
        guard !crls.isEmpty else { return ([], false) }
        let issuers = intermediates + anchors
        var reasons: [VerdictReason] = [], checked = false
        for certificate in crlWholeChain ? [leaf] + intermediates : [leaf] {
            guard let issuer = issuers.first(where: { X509_check_issued($0.x509, certificate.x509) == X509_V_OK }),
                  let crl = crls.first(where: { $0.isIssued(by: issuer) }) else { continue }
            checked = true
            reasons += crl.check(certificate, issuer: issuer, at: seconds)
        }
        ERR_clear_error()
        return (reasons, checked)
    }
}
