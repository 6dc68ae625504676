import EventStore
import Projections

/// The latest verdict per SPIFFE ID, kept current from the log: what an agent answers the
/// healing engine's trust questions from (its `PeerTrust`). Each question first applies the
/// verdicts recorded since the last one.
public final class CertificateStandings: Sendable {
    let runner: ProjectionRunner<CertificatesProjection>

    public init(store: EventStore) throws(ProjectionError) {
        runner = try ProjectionRunner(store: store, projection: CertificatesProjection())
    }

    /// The latest verdict on `spiffeID` with the id and seq of its event, nil when none is
    /// recorded. A verdict that was trusted but whose certificate has expired by `time` is
    /// reported rejected for `expired`: trust recorded once does not outlive the certificate.
    public func latest(_ spiffeID: String, at time: Timestamp) throws(ProjectionError) -> (verdict: CertificateVerdict, seq: UInt64, eventID: String?)? {
        _ = try runner.catchUp()
        guard let latest = runner.state.value.bySPIFFEID[spiffeID] else { return nil }
        var verdict = latest.verdict
        if verdict.trusted && verdict.notAfter < time.seconds {
            verdict.trusted = false
            verdict.reasons = [VerdictReason.expired.rawValue]
        }
        let eventID = try? runner.store.event(at: latest.seq)?.id
        return (verdict, latest.seq, eventID)
    }
}
