import EventStore

/// What the healing engine asks before an action runs: whether a zero-trust policy allows it.
/// The agent answers it from the Policies module; Healing does not import it, so the question
/// and its answer are this protocol (as with `PeerTrust`).
public protocol ActionPolicy: Sendable {
    func decide(_ request: ActionRequest) async -> ActionPolicyVerdict
}

/// An action about to run, as a policy sees it.
public struct ActionRequest: Sendable, Hashable {
    public var actionID: String
    public var kind: String
    public var target: String
    /// The action's params as text, plus `service` or `node` when the target names one.
    public var labels: [String: String]
    public var correlation: String?
    /// Actions the incident (the correlation) already holds, this one not counted.
    public var incidentActions: Int
    public var time: Timestamp
    /// The node the action sends traffic to or lets back in, which the policy may also be
    /// asked to trust (for operation `route` or `admit`).
    public var peer: String?
    public var peerOperation: String?
}

/// A policy's answer, with the events that record its decisions, appended in the same commit
/// as the action's next step (`action.started`, or `action.rejected` with reason
/// `policy_denied`).
public struct ActionPolicyVerdict: Sendable {
    public var allowed: Bool
    public var policy: String
    public var version: Int
    /// The rule that decided (the denying one when denied).
    public var rule: String
    public var records: [NewEvent]

    public init(allowed: Bool, policy: String, version: Int, rule: String, records: [NewEvent]) {
        self.allowed = allowed
        self.policy = policy
        self.version = version
        self.rule = rule
        self.records = records
    }
}

extension Action {
    /// What an admitted peer is trusted for: traffic (`route`) or membership (`admit`).
    var peerOperation: String? {
        switch self {
        case .switchRoute: return "route"
        case .release: return "admit"
        case .scale, .failover, .quarantine: return nil
        }
    }

    /// The labels a policy matches on: every param as text, and the service or node targeted.
    var policyLabels: [String: String] {
        var labels: [String: String] = [:]
        for (key, value) in params.mapValue ?? [:] {
            switch value {
            case .string(let text): labels[key] = text
            case .int(let number): labels[key] = String(number)
            case .bool(let flag): labels[key] = flag ? "true" : "false"
            default: continue
            }
        }
        let parts = target.split(separator: "/", maxSplits: 1)
        if parts.count == 2, ["service", "node"].contains(String(parts[0])) { labels[String(parts[0])] = String(parts[1]) }
        return labels
    }
}
