import EventStore

/// What a policy is asked: an action about to run, or a peer about to be trusted. Its JSON form
/// (`value`) is the input both evaluators see, the built-in one and OPA's, and what
/// `policy.decision` records, so a decision can be evaluated again against another version.
public struct PolicyInput: Sendable, Hashable {
    public var subject: PolicySubject
    public var time: Timestamp
    /// For actions: its id, kind, target and labels (its params as text, and service or node).
    public var actionID: String?
    public var kind: String?
    public var target: String?
    public var labels: [String: String] = [:]
    /// For actions: the incident's correlation id and how many actions it already holds.
    public var correlation: String?
    public var incidentActions: Int = 0
    /// For peers: SPIFFE ID, the latest certificate verdict, and the operation asked for.
    public var spiffeID: String?
    public var verdict: String?
    public var operation: String?

    public init(subject: PolicySubject, time: Timestamp) {
        self.subject = subject
        self.time = time
    }

    /// An action: `kind` on `target`, labelled.
    public static func action(id: String, kind: String, target: String, labels: [String: String], correlation: String?,
                              incidentActions: Int, at time: Timestamp) -> PolicyInput {
        var input = PolicyInput(subject: .action, time: time)
        input.actionID = id
        input.kind = kind
        input.target = target
        input.labels = labels
        input.correlation = correlation
        input.incidentActions = incidentActions
        return input
    }

    /// A peer identified by `spiffeID` with its latest verdict, asking for `operation`.
    public static func peer(spiffeID: String, verdict: String, operation: String, at time: Timestamp) -> PolicyInput {
        var input = PolicyInput(subject: .peer, time: time)
        input.spiffeID = spiffeID
        input.verdict = verdict
        input.operation = operation
        return input
    }

    public var value: EventValue {
        var fields: [String: EventValue] = ["subject": .string(subject.rawValue), "time": .string(time.rfc3339)]
        if subject == .action {
            fields["action"] = ["id": .string(actionID ?? ""), "kind": .string(kind ?? ""), "target": .string(target ?? ""),
                                "labels": .map(labels.mapValues { .string($0) })]
            fields["incident"] = ["correlation": .string(correlation ?? ""), "actions": .int(Int64(incidentActions))]
        } else {
            fields["peer"] = ["spiffe_id": .string(spiffeID ?? ""), "verdict": .string(verdict ?? "unknown")]
            fields["operation"] = .string(operation ?? "")
        }
        return .map(fields)
    }

    /// Reads an input back from its recorded form; nil when it is not one.
    public init?(value: EventValue) {
        guard let subjectText = value["subject"]?.stringValue, let subject = PolicySubject(rawValue: subjectText),
              let time = value["time"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) else { return nil }
        self.init(subject: subject, time: time)
        switch subject {
        case .action:
            guard let action = value["action"], let kind = action["kind"]?.stringValue, let target = action["target"]?.stringValue else { return nil }
            actionID = action["id"]?.stringValue
            self.kind = kind
            self.target = target
            for (key, label) in action["labels"]?.mapValue ?? [:] { if let text = label.stringValue { labels[key] = text } }
            correlation = value["incident"]?["correlation"]?.stringValue
            incidentActions = Int(clamping: value["incident"]?["actions"]?.intValue ?? 0)
        case .peer:
            guard let peer = value["peer"], let id = peer["spiffe_id"]?.stringValue else { return nil }
            spiffeID = id
            verdict = peer["verdict"]?.stringValue
            operation = value["operation"]?.stringValue
        }
    }
}

/// The answer to one question: allowed or not, and the rule that decided (`default` when no
/// rule matched; an error's name when the evaluator could not answer, which is a deny).
public struct PolicyDecision: Sendable, Hashable {
    public var allowed: Bool
    public var rule: String
    /// Why the evaluator could not answer (the decision is then a deny: fail closed).
    public var error: String?

    public init(allowed: Bool, rule: String, error: String? = nil) {
        self.allowed = allowed
        self.rule = rule
        self.error = error
    }

    public static func failedClosed(_ rule: String, _ error: String) -> PolicyDecision {
        PolicyDecision(allowed: false, rule: rule, error: error)
    }

    public var result: String { allowed ? "allow" : "deny" }
}

/// Decides a `PolicyInput` under one version of a policy. Two implementations: `RuleEvaluator`
/// (the built-in rule language) and `OPAEvaluator` (Open Policy Agent's Data API). An evaluator
/// that cannot answer denies (fails closed) and says why in `PolicyDecision.error`.
public protocol PolicyEvaluator: Sendable {
    /// Recorded with each decision: `builtin` or `opa`.
    var name: String { get }
    func decide(_ input: PolicyInput, under policy: PublishedPolicy) async -> PolicyDecision
}

/// The built-in rule language: deny wins, then allow, else deny (`default`).
public struct RuleEvaluator: PolicyEvaluator {
    public init() {}

    public var name: String { "builtin" }

    public func decide(_ input: PolicyInput, under policy: PublishedPolicy) async -> PolicyDecision {
        decide(input, policy.document)
    }

    /// The synchronous form: evaluation touches nothing but its arguments.
    public func decide(_ input: PolicyInput, _ document: PolicyDocument) -> PolicyDecision {
        let matching = document.rules.filter { $0.when.matches(input) }
        if let deny = matching.first(where: { $0.effect == .deny }) { return PolicyDecision(allowed: false, rule: deny.id) }
        if let allow = matching.first(where: { $0.effect == .allow }) { return PolicyDecision(allowed: true, rule: allow.id) }
        return PolicyDecision(allowed: false, rule: "default")
    }
}

extension PolicyDocument.Conditions {
    func matches(_ input: PolicyInput) -> Bool {
        if let subject, subject != input.subject { return false }
        if let kinds, !kinds.contains(input.kind ?? "") { return false }
        if let target, !(input.target.map(target.matches) ?? false) { return false }
        for (key, glob) in labels where !(input.labels[key].map(glob.matches) ?? false) { return false }
        if let spiffeID, !(input.spiffeID.map(spiffeID.matches) ?? false) { return false }
        if let verdicts, !verdicts.contains(input.verdict ?? "unknown") { return false }
        if let operations, !operations.contains(input.operation ?? "") { return false }
        if let time, !time.contains(input.time) { return false }
        if let incidentMinActions, input.incidentActions < incidentMinActions { return false }
        return true
    }
}

extension DocumentReader {
    mutating func glob(_ value: EventValue?, _ path: String) -> Glob? {
        guard let text = string(value, path) else { return nil }
        guard let glob = Glob(text) else {
            fail(path, "a pattern may use * and ? as wildcards; [ ] { } \\ ! are not allowed")
            return nil
        }
        return glob
    }
}
