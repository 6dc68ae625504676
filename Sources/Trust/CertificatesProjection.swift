import EventStore
import Projections

/// What the log says about certificates: the latest verdict per SPIFFE ID and per serial, the
/// serials known revoked, and the expiry of every certificate seen (by SHA-256).
public struct CertificatesProjection: Projection {
    public struct Latest: Sendable, Codable, Equatable {
        public var verdict: CertificateVerdict
        public var seq: UInt64
        public var time: Timestamp

        public init(verdict: CertificateVerdict, seq: UInt64, time: Timestamp) {
            self.verdict = verdict
            self.seq = seq
            self.time = time
        }
    }

    public struct Certificates: Sendable, Codable, Equatable {
        public var bySPIFFEID: [String: Latest] = [:]
        public var bySerial: [String: Latest] = [:]
        /// Serial -> the seq of the first verdict that found it revoked.
        public var revokedSerials: [String: UInt64] = [:]
        public var expiries: [String: Int64] = [:]

        public init() {}

        enum CodingKeys: String, CodingKey {
            case bySPIFFEID = "by_spiffe_id", bySerial = "by_serial", revokedSerials = "revoked_serials", expiries
        }
    }

    public typealias State = Tolerant<Certificates>

    public init() {}

    public var name: String { "certificates" }
    public var version: UInt32 { 1 }
    public var initialState: State { Tolerant(Certificates()) }

    public func apply(_ event: Event, to state: inout State) {
        guard event.type == TrustEvent.verdict else { return }
        state.applying(event) { value throws(PayloadError) in
            let verdict = try CertificateVerdict(payload: event.data)
            let latest = Latest(verdict: verdict, seq: event.seq, time: event.time)
            if !verdict.spiffeID.isEmpty { value.bySPIFFEID[verdict.spiffeID] = latest }
            value.bySerial[verdict.serial] = latest
            value.expiries[verdict.sha256] = verdict.notAfter
            if verdict.reasons.contains(where: { $0.hasPrefix("revoked") }), value.revokedSerials[verdict.serial] == nil {
                value.revokedSerials[verdict.serial] = event.seq
            }
        }
    }
}
