import EventStore

/// Validates chains and records every verdict in the log (`cert.verdict`), so that "which
/// certificates did this node trust at 03:12, and why?" is a query.
public final class TrustRecorder: Sendable {
    public let store: EventStore
    public let validator: ChainValidator

    public init(store: EventStore, validator: ChainValidator) {
        self.store = store
        self.validator = validator
    }

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
}
