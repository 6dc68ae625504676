import EventStore
import Projections

/// Why a policy operation was refused.
public enum PolicyError: Error, Sendable, CustomStringConvertible {
    case invalidDocument(DocumentErrors)
    case unknownPolicy(String)
    case unknownVersion(policy: String, version: Int)
    case store(StoreError)
    case projection(ProjectionError)

    public var description: String {
        switch self {
        case .invalidDocument(let errors): return "invalid policy document: \(errors)"
        case .unknownPolicy(let name): return "no policy named \(name) is published"
        case .unknownVersion(let name, let version): return "policy \(name) has no version \(version)"
        case .store(let error): return error.description
        case .projection(let error): return error.description
        }
    }

    /// The caller's input was wrong (exit 2), not the store.
    public var isBadInput: Bool {
        switch self {
        case .invalidDocument, .unknownPolicy, .unknownVersion: return true
        case .store(let error): return error.isBadInput
        case .projection(let error): return error.isBadInput
        }
    }
}

/// The policies of one store: publishing and activating versions (as events, so which version
/// was in force at any point is a query), and deciding under the active version, each decision
/// becoming a `policy.decision` event. Versions published or activated by another process take
/// effect at the next decision: every decision first catches up with the log.
public final class PolicyBook: @unchecked Sendable {
    // @unchecked: the runner has its own lock; the rest is immutable.
    public let store: EventStore
    public let evaluator: any PolicyEvaluator
    private let runner: ProjectionRunner<PoliciesProjection>
    /// Documents already read, by SHA-256: every decision reads the active version, and a
    /// version, once published, never changes.
    private let parsedLock = Mutex()
    private var parsed: [String: PolicyDocument] = [:]

    public init(store: EventStore, evaluator: any PolicyEvaluator = RuleEvaluator()) throws(PolicyError) {
        self.store = store
        self.evaluator = evaluator
        do { runner = try ProjectionRunner(store: store, projection: PoliciesProjection(), snapshotInterval: 0) } catch { throw .projection(error) }
    }

    /// Every policy as the log stands now.
    public func policies() throws(PolicyError) -> [String: VersionedDocument] {
        do { try runner.catchUp() } catch { throw .projection(error) }
        return runner.state.value
    }

    /// Every policy as it stood after event `seq`.
    public func policies(at seq: UInt64) throws(PolicyError) -> [String: VersionedDocument] {
        do { return try Replay(store: store, projection: PoliciesProjection()).state(at: seq).value } catch { throw .projection(error) }
    }

    /// The active version of `name`, nil when none is active.
    public func active(_ name: String) throws(PolicyError) -> PublishedPolicy? {
        guard let policy = try policies()[name], let version = policy.active else { return nil }
        return published(policy, name, version: version)
    }

    /// Version `version` of `name`.
    public func version(_ version: Int, of name: String) throws(PolicyError) -> PublishedPolicy {
        guard let policy = try policies()[name] else { throw .unknownPolicy(name) }
        guard let found = published(policy, name, version: version) else { throw .unknownVersion(policy: name, version: version) }
        return found
    }

    /// Version `version` of `policy` read into a document, once per published version.
    private func published(_ policy: VersionedDocument, _ name: String, version: Int) -> PublishedPolicy? {
        guard let stored = policy.versions[String(version)], let sha = Digest(hex: stored.sha256) else { return nil }
        if let document = parsedLock.withLock({ parsed[stored.sha256] }) { return PublishedPolicy(name: name, version: version, sha256: sha, document: document) }
        guard let found = policy.policy(name, version: version) else { return nil }
        parsedLock.withLock { parsed[stored.sha256] = found.document }
        return found
    }

    /// Publishes `document` as the next version of its policy (`policy.published` with the
    /// document and its SHA-256). A document identical to a published version is that version:
    /// nothing is recorded. Returns the version and whether it is new.
    @discardableResult
    public func publish(_ document: PolicyDocument) throws(PolicyError) -> (version: Int, isNew: Bool) {
        let current = try policies()[document.name]
        do { return try PoliciesProjection.documents.publish(document.source, named: document.name, current: current, in: store) } catch {
            throw .store(error)
        }
    }

    /// Makes `version` the one in force (`policy.activated`); activating an older version is
    /// the policy's rollback.
    public func activate(_ name: String, version: Int) throws(PolicyError) {
        _ = try self.version(version, of: name)
        do { try PoliciesProjection.documents.activate(name, version: version, in: store) } catch { throw .store(error) }
    }

    /// Decides `input` under the active version of `name` and returns the decision with the
    /// `policy.decision` event that records it (not yet appended: the caller appends it with
    /// what it decided, in one commit). No active version is a deny (`no_active_policy`).
    public func decide(_ input: PolicyInput, policy name: String) async -> (decision: PolicyDecision, version: Int, record: NewEvent) {
        let active: PublishedPolicy?
        let decision: PolicyDecision
        do {
            active = try self.active(name)
            if let active { decision = await evaluator.decide(input, under: active) } else { decision = .failedClosed("no_active_policy", "policy \(name) has no active version") }
        } catch {
            active = nil
            decision = .failedClosed("store_error", error.description)
        }
        let version = active?.version ?? 0
        return (decision, version, Self.decisionEvent(policy: name, version: version, input: input, decision: decision, evaluator: evaluator.name))
    }

    /// Decides and records the decision in its own commit (for questions no other event
    /// accompanies, such as a peer's).
    public func decideAndRecord(_ input: PolicyInput, policy name: String) async throws(PolicyError) -> PolicyDecision {
        let (decision, _, record) = await decide(input, policy: name)
        do { _ = try await store.append([record]) } catch { throw .store(error) }
        return decision
    }

    static func decisionEvent(policy: String, version: Int, input: PolicyInput, decision: PolicyDecision, evaluator: String) -> NewEvent {
        var data: [String: EventValue] = ["policy": .string(policy), "version": .int(Int64(version)), "input": input.value,
                                          "result": .string(decision.result), "rule": .string(decision.rule), "evaluator": .string(evaluator)]
        if let error = decision.error { data["error"] = .string(error) }
        if let action = input.actionID { data["action"] = .string(action) }
        return NewEvent(type: PolicyEvent.decision, stream: PolicyEvent.decisionStream(policy), data: .map(data), correlation: input.correlation)
    }

    /// The recorded decisions of `name` (since `since`), each evaluated again under `version`:
    /// what another version would have decided.
    public func replay(_ name: String, against version: Int, since: Timestamp? = nil) async throws(PolicyError) -> [ReplayedDecision] {
        let target = try self.version(version, of: name)
        let recorded: [Event]
        do { recorded = try store.query(EventQuery(stream: PolicyEvent.decisionStream(name), type: PolicyEvent.decision, since: since)).collect() } catch {
            throw .store(error)
        }
        var out: [ReplayedDecision] = []
        for event in recorded {
            guard let input = event.data["input"].flatMap(PolicyInput.init(value:)) else { continue }
            let now = await evaluator.decide(input, under: target)
            out.append(ReplayedDecision(seq: event.seq, time: event.time, input: input,
                                        recordedVersion: Int(clamping: event.data["version"]?.intValue ?? 0),
                                        recordedResult: event.data["result"]?.stringValue ?? "", recordedRule: event.data["rule"]?.stringValue ?? "",
                                        replayed: now))
        }
        return out
    }
}

/// A recorded decision next to what another version decides for the same input.
public struct ReplayedDecision: Sendable, Hashable {
    public var seq: UInt64
    public var time: Timestamp
    public var input: PolicyInput
    public var recordedVersion: Int
    public var recordedResult: String
    public var recordedRule: String
    public var replayed: PolicyDecision

    public var changed: Bool { replayed.result != recordedResult }
}
