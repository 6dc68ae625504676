import EventStore
import Healing
import Policies

/// Healing's policy question, answered by a `PolicyBook` under the active version of one
/// policy: versions published or activated while the engine runs apply from the next action.
/// An action that routes traffic to a node or lets one back in also asks the policy whether
/// that peer (its SPIFFE ID and latest certificate verdict) may be trusted for it; both
/// decisions are recorded, and either can deny.
public struct PolicyGate: ActionPolicy {
    public let book: PolicyBook
    public let policy: String
    /// A node's SPIFFE ID and its latest certificate verdict (`trusted`, `untrusted`, `unknown`).
    public let peerStanding: @Sendable (String, Timestamp) -> (spiffeID: String, verdict: String)

    public init(book: PolicyBook, policy: String,
                peerStanding: @escaping @Sendable (String, Timestamp) -> (spiffeID: String, verdict: String) = { node, _ in ("spiffe://mesh.local/node/\(node)", "unknown") }) {
        self.book = book
        self.policy = policy
        self.peerStanding = peerStanding
    }

    public func decide(_ request: ActionRequest) async -> ActionPolicyVerdict {
        let input = PolicyInput.action(id: request.actionID, kind: request.kind, target: request.target, labels: request.labels,
                                       correlation: request.correlation, incidentActions: request.incidentActions, at: request.time)
        let (decision, version, record) = await book.decide(input, policy: policy)
        var verdict = ActionPolicyVerdict(allowed: decision.allowed, policy: policy, version: version, rule: decision.rule, records: [record])
        guard decision.allowed, let peer = request.peer, let operation = request.peerOperation else { return verdict }
        let standing = peerStanding(peer, request.time)
        var question = PolicyInput.peer(spiffeID: standing.spiffeID, verdict: standing.verdict, operation: operation, at: request.time)
        question.actionID = request.actionID
        question.correlation = request.correlation
        let (trusted, peerVersion, peerRecord) = await book.decide(question, policy: policy)
        verdict.records.append(peerRecord)
        if !trusted.allowed {
            verdict.allowed = false
            verdict.rule = trusted.rule
            verdict.version = peerVersion
        }
        return verdict
    }
}
