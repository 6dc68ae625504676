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
    public typealias State = Tolerant<[String: VersionedDocument]>

    /// How policies are versioned in the log.
    public static let documents = VersionedDocuments(kind: "policy") { (try? PolicyDocument(value: $0))?.name }

    public init() {}

    public var name: String { "policies" }
    public var version: UInt32 { 1 }
    public var initialState: State { Tolerant([:]) }
    public var fields: EventFields { [.payload] }

    public func apply(_ event: Event, to state: inout State) {
        guard event.type == PolicyEvent.published || event.type == PolicyEvent.activated else { return }
        state.applying(event) { policies throws(PayloadError) in try Self.documents.apply(event, to: &policies) }
    }
}

extension VersionedDocument {
    /// The published version `version` of policy `name`, read back into a document.
    public func policy(_ name: String, version: Int) -> PublishedPolicy? {
        guard let stored = versions[String(version)], let sha = Digest(hex: stored.sha256),
              let document = try? PolicyDocument(value: stored.document) else { return nil }
        return PublishedPolicy(name: name, version: version, sha256: sha, document: document)
    }
}
