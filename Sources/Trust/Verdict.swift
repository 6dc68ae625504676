import EventStore

/// The Trust domain's event types (EVENTS.md).
public enum TrustEvent {
    public static let verdict = "cert.verdict"
    public static let bundleUpdated = "trust.bundle_updated"
}

/// One validation's outcome, as `cert.verdict` records it: {spiffe_id, serial, sha256,
/// not_before, not_after, verdict: trusted | rejected, reasons, checks: {chain, crl, ocsp, pin},
/// signature_algorithms}.
public struct CertificateVerdict: Sendable, Hashable, Codable {
    /// Empty when the leaf has no readable SPIFFE ID.
    public var spiffeID: String
    public var serial: String
    public var sha256: String
    /// Seconds since the epoch (RFC 3339 in the payload).
    public var notBefore: Int64
    public var notAfter: Int64
    public var trusted: Bool
    public var reasons: [String]
    /// Check -> ok, failed or skipped (as EVENTS.md's example records them).
    public var checks: [String: String]
    /// The signature algorithm of each certificate of the chain, leaf first.
    public var signatureAlgorithms: [String]
    /// How the OCSP response was fetched, when it was: url, source (network or cache), nonce
    /// (echoed, absent, mismatch), policy (soft_fail or hard_fail) and any error.
    public var ocspFetch: [String: String]?

    /// The verdict on `leaf` (with `chain` after it) from a validation's result.
    public init(leaf: Certificate, chain: [Certificate], result: ChainResult) throws(StoreError) {
        spiffeID = result.id?.description ?? ""
        serial = leaf.serial
        sha256 = try Digest.sha256(leaf.der).hex
        notBefore = leaf.notBefore ?? 0
        notAfter = leaf.notAfter ?? 0
        trusted = result.trusted
        reasons = result.reasons.map(\.rawValue)
        let chainReasons: Set<VerdictReason> = [.expired, .notYetValid, .untrustedChain, .unknownTrustDomain]
        let crlReasons: Set<VerdictReason> = [.revokedCRL, .crlStale, .crlInvalid]
        let pinReasons: Set<VerdictReason> = [.pinMismatch, .pinWithoutBackup]
        let ocspReasons: Set<VerdictReason> = [.revokedOCSP, .ocspUnknown, .ocspStale, .ocspInvalid, .ocspUnreachable]
        checks = ["chain": result.reasons.contains(where: chainReasons.contains) ? "failed" : "ok",
                  "svid": result.reasons.contains(where: { !chainReasons.contains($0) && !crlReasons.contains($0) && !pinReasons.contains($0) && !ocspReasons.contains($0) }) ? "failed" : "ok",
                  "crl": !result.crlChecked ? "skipped" : result.reasons.contains(where: crlReasons.contains) ? "failed" : "ok",
                  "ocsp": !result.ocspChecked ? "skipped" : result.ocspUnreachable ? "unreachable"
                      : result.ocspStatus.map { result.reasons.contains(.ocspStale) ? "stale" : $0.rawValue } ?? "failed",
                  "pin": !result.pinChecked ? "skipped" : result.reasons.contains(where: pinReasons.contains) ? "failed" : "ok"]
        signatureAlgorithms = ([leaf] + chain).map(\.signatureAlgorithm)
        ocspFetch = result.ocspFetch
    }

    /// An RFC 3339 time field as whole seconds.
    static func seconds(_ d: PayloadReader, _ key: String) throws(PayloadError) -> Int64 {
        let text = try d.string(key)
        guard let time = Timestamp(rfc3339: text) else { throw PayloadError(field: "data.\(key)", message: "'\(text)' is not an RFC 3339 time") }
        return time.seconds
    }

    public var payload: EventValue {
        var fields: [String: EventValue] = [
            "spiffe_id": .string(spiffeID), "serial": .string(serial), "sha256": .string(sha256),
            "not_before": .string(Timestamp(seconds: notBefore).rfc3339), "not_after": .string(Timestamp(seconds: notAfter).rfc3339), "verdict": .string(trusted ? "trusted" : "rejected"),
            "reasons": .array(reasons.map { .string($0) }), "checks": .map(checks.mapValues { .string($0) }),
            "signature_algorithms": .array(signatureAlgorithms.map { .string($0) }),
        ]
        if let ocspFetch { fields["ocsp_fetch"] = .map(ocspFetch.mapValues { .string($0) }) }
        return .map(fields)
    }

    /// The event recording it, in the stream `cert/SPIFFE-ID` (or `cert/serial/SERIAL` without one).
    public var event: NewEvent { event(correlation: nil) }

    public func event(correlation: String?) -> NewEvent {
        NewEvent(type: TrustEvent.verdict, stream: spiffeID.isEmpty ? "cert/serial/\(serial)" : "cert/\(spiffeID)", data: payload, correlation: correlation)
    }

    /// Reads a recorded verdict.
    public init(payload data: EventValue) throws(PayloadError) {
        let d = try PayloadReader(data)
        spiffeID = try d.optionalText("spiffe_id") ?? ""
        serial = try d.text("serial")
        sha256 = try d.string("sha256")
        notBefore = try Self.seconds(d, "not_before")
        notAfter = try Self.seconds(d, "not_after")
        switch try d.string("verdict") {
        case "trusted": trusted = true
        case "rejected": trusted = false
        case let other: throw PayloadError(field: "data.verdict", message: "'\(other)' is not trusted or rejected")
        }
        reasons = try d.optionalArray("reasons") { value, path throws(PayloadError) in
            guard case .string(let reason) = value else { throw PayloadError(field: path, message: "a string is required") }
            return reason
        } ?? []
        guard trusted == reasons.isEmpty else { throw PayloadError(field: "data.reasons", message: "a rejected verdict names its reasons, a trusted one none") }
        var checks: [String: String] = [:]
        for (name, value) in try d.object("checks").fields { checks[name] = value.stringValue ?? "" }
        self.checks = checks
        signatureAlgorithms = try d.optionalArray("signature_algorithms") { value, _ throws(PayloadError) in value.stringValue ?? "" } ?? []
        if case .map(let fields)? = data["ocsp_fetch"] { ocspFetch = fields.mapValues { $0.stringValue ?? "" } }
    }
}

/// Checks the Trust domain's payloads at append.
public struct TrustVocabulary: EventVocabulary {
    public init() {}

    public func validate(type: String, data: EventValue) throws(PayloadError) {
        switch type {
        case TrustEvent.verdict: _ = try CertificateVerdict(payload: data)
        case TrustEvent.bundleUpdated:
            let d = try PayloadReader(data)
            _ = try d.string("trust_domain")
            _ = try d.string("sha256")
            _ = try d.int("certificates", in: 0...1_000_000)
        default: return
        }
    }
}
