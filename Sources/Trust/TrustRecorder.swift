import EventStore

/// Validates chains and records every verdict in the log (`cert.verdict`), so that "which
/// certificates did this node trust at 03:12, and why?" is a query. Bundles can be replaced
/// while it runs; each replacement is recorded (`trust.bundle_updated`).
public final class TrustRecorder: @unchecked Sendable {
    // @unchecked: `current` is read and replaced under `lock`.
    public let store: EventStore
    private let lock = Mutex()
    private var current: ChainValidator

    public init(store: EventStore, validator: ChainValidator) {
        self.store = store
        self.current = validator
    }

    /// The validator in force.
    public var validator: ChainValidator { lock.withLock { current } }

    /// Validates `leaf` with `chain` at `time` (default: the store's clock) and records the
    /// verdict durably before returning it.
    @discardableResult
    public func verify(leaf: Certificate, chain: [Certificate] = [], at time: Timestamp? = nil,
                       correlation: String? = nil) throws(StoreError) -> CertificateVerdict {
        let time = time ?? store.options.clock.now()
        return try record(validator.validate(leaf: leaf, intermediates: chain, at: time), leaf: leaf, chain: chain, correlation: correlation)
    }

    /// Like `verify`, asking `fetcher` (when given) for the leaf's OCSP status first, from its
    /// cache while the last answer is fresh; how it went is in the verdict's `ocsp_fetch`.
    /// The append suspends rather than blocks, so verdicts of concurrent validations share the
    /// store's group commits.
    @discardableResult
    public func verify(leaf: Certificate, chain: [Certificate] = [], at time: Timestamp? = nil, fetching fetcher: OCSPFetcher?,
                       correlation: String? = nil) async throws(StoreError) -> CertificateVerdict {
        let time = time ?? store.options.clock.now()
        let validator = self.validator
        var fetched: OCSPFetch?
        if let fetcher {
            if let issuer = validator.issuer(of: leaf, intermediates: chain) {
                fetched = await fetcher.fetch(for: leaf, issuer: issuer, at: time)
            } else {
                fetched = OCSPFetch(outcome: .invalid("the leaf's issuer is not in the chain or a bundle"), url: "", softFail: fetcher.softFail)
            }
        }
        let verdict = try CertificateVerdict(leaf: leaf, chain: chain, result: validator.validate(leaf: leaf, intermediates: chain, at: time, fetched: fetched))
        _ = try await store.append([verdict.event(correlation: correlation)])
        return verdict
    }

    private func record(_ result: ChainResult, leaf: Certificate, chain: [Certificate], correlation: String?) throws(StoreError) -> CertificateVerdict {
        let verdict = try CertificateVerdict(leaf: leaf, chain: chain, result: result)
        _ = try store.appendBlocking([verdict.event(correlation: correlation)])
        return verdict
    }

    /// Replaces the bundle of `trustDomain` (an empty one removes it) and records
    /// `trust.bundle_updated` {trust_domain, sha256 of the certificates' DER in order,
    /// certificates}; validations after this call use the new bundle.
    public func replaceBundle(_ trustDomain: String, with certificates: [Certificate]) throws(StoreError) {
        let sha256 = try Digest.sha256(certificates.flatMap(\.der)).hex
        _ = try store.appendBlocking([NewEvent(type: TrustEvent.bundleUpdated, stream: "trust/\(trustDomain)", data: [
            "trust_domain": .string(trustDomain), "sha256": .string(sha256), "certificates": .int(Int64(certificates.count)),
        ])])
        lock.withLock { current.bundles[trustDomain] = certificates.isEmpty ? nil : certificates }
    }
}
