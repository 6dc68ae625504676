import EventStore
import Healing
import Policies

/// Healing's policy question, answered by a `PolicyBook` under the active version of one
/// policy: versions published or activated while the engine runs apply from the next action.
public struct PolicyGate: ActionPolicy {
    public let book: PolicyBook
    public let policy: String

    public init(book: PolicyBook, policy: String) {
        self.book = book
        self.policy = policy
    }

    public func decide(_ request: ActionRequest) async -> ActionPolicyVerdict {
        let input = PolicyInput.action(id: request.actionID, kind: request.kind, target: request.target, labels: request.labels,
                                       correlation: request.correlation, incidentActions: request.incidentActions, at: request.time)
        let (decision, version, record) = await book.decide(input, policy: policy)
        return ActionPolicyVerdict(allowed: decision.allowed, policy: policy, version: version, rule: decision.rule, record: record)
    }
}
