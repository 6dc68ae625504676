import EventStore
import Projections

/// The event types of policies (EVENTS.md, runbooks and policies).
public enum PolicyEvent {
    public static let published = "policy.published"
    public static let activated = "policy.activated"
    public static let decision = "policy.decision"

    public static func stream(_ policy: String) -> String { "policy/\(policy)" }
    /// Decisions go to a stream of their own: a publisher's expected version of `policy/NAME`
    /// does not race with the decisions of running agents.
    public static func decisionStream(_ policy: String) -> String { "policy/\(policy)/decisions" }
}

/// One published version of a policy.
public struct PublishedPolicy: Sendable, Hashable {
    public var name: String
    public var version: Int
    public var sha256: Digest
    public var document: PolicyDocument

    public init(name: String, version: Int, sha256: Digest, document: PolicyDocument) {
        self.name = name
        self.version = version
        self.sha256 = sha256
        self.document = document
    }
}

/// Every policy's published versions and which one is active, from the log.
public struct PoliciesProjection: Projection {
    public struct Version: Sendable, Codable, Equatable {
        public var sha256: String
        public var document: EventValue
        public var seq: UInt64
        public var time: Timestamp
    }

    public struct Policy: Sendable, Codable, Equatable {
        /// Version number (as text: state keys are strings) -> version.
        public var versions: [String: Version] = [:]
        public var active: Int?
        public var activatedSeq: UInt64?

        public var latest: Int { versions.keys.compactMap { Int($0) }.max() ?? 0 }

        enum CodingKeys: String, CodingKey { case versions, active, activatedSeq = "activated_seq" }
    }

    public typealias State = Tolerant<[String: Policy]>

    public init() {}

    public var name: String { "policies" }
    public var version: UInt32 { 1 }
    public var initialState: State { Tolerant([:]) }
    public var fields: EventFields { [.payload] }

    public func apply(_ event: Event, to state: inout State) {
        switch event.type {
        case PolicyEvent.published:
            state.applying(event) { policies throws(PayloadError) in
                let (name, version) = try Self.nameAndVersion(event)
                guard let document = event.data["document"], let sha = event.data["sha256"]?.stringValue else {
                    throw PayloadError(field: "document", message: "a published policy needs its document and sha256")
                }
                guard (try? Digest.sha256(Array(JSONWriter.encode(document).utf8)))?.hex == sha else {
                    throw PayloadError(field: "sha256", message: "does not match the document")
                }
                guard (try? PolicyDocument(value: document))?.name == name else {
                    throw PayloadError(field: "document", message: "not a valid policy named \(name)")
                }
                guard policies[name]?.versions[String(version)] == nil else {
                    throw PayloadError(field: "version", message: "version \(version) of \(name) is already published")
                }
                policies[name, default: Policy()].versions[String(version)] = Version(sha256: sha, document: document, seq: event.seq, time: event.time)
            }
        case PolicyEvent.activated:
            state.applying(event) { policies throws(PayloadError) in
                let (name, version) = try Self.nameAndVersion(event)
                guard policies[name]?.versions[String(version)] != nil else {
                    throw PayloadError(field: "version", message: "\(name) has no version \(version)")
                }
                policies[name]?.active = version
                policies[name]?.activatedSeq = event.seq
            }
        default:
            return
        }
    }

    private static func nameAndVersion(_ event: Event) throws(PayloadError) -> (String, Int) {
        guard let name = event.data["policy"]?.stringValue, !name.isEmpty else { throw PayloadError(field: "policy", message: "missing") }
        guard let version = event.data["version"]?.intValue, version >= 1, version <= 1_000_000 else {
            throw PayloadError(field: "version", message: "must be an integer from 1 to 1000000")
        }
        return (name, Int(version))
    }
}

extension PoliciesProjection.Policy {
    /// The published version `version` of policy `name`, read back into a document.
    public func published(_ name: String, version: Int) -> PublishedPolicy? {
        guard let stored = versions[String(version)], let sha = Digest(hex: stored.sha256),
              let document = try? PolicyDocument(value: stored.document) else { return nil }
        return PublishedPolicy(name: name, version: version, sha256: sha, document: document)
    }
}
