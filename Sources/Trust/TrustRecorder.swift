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
        let result = validator.validate(leaf: leaf, intermediates: chain, at: time ?? store.options.clock.now())
        let verdict = try CertificateVerdict(leaf: leaf, chain: chain, result: result)
        var event = verdict.event
        event.correlation = correlation
        _ = try store.appendBlocking([event])
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
