import EventStore

/// A runbook: which symptoms it answers, the ordered recovery actions it takes (params templated
/// from the symptom's labels and the topology), what a failed step does, and how often it may
/// run. It carries its own test cases. `runbooks/runbook.schema.json` is its JSON Schema;
/// `runbooks/` holds the default runbooks, the plan table of earlier versions.
public struct RunbookDocument: Sendable, Hashable {
    public enum Trigger: String, Sendable, Hashable { case detected, cleared }

    /// What a failed (or refused) step does to the run.
    public enum FailureMode: String, Sendable, Hashable {
        /// The run ends, failed; earlier steps stand.
        case stop
        /// The next step runs; the run fails at the end if any step failed.
        case `continue`
        /// The steps that succeeded are compensated, newest first; the run ends rolled back.
        case rollback
    }

    public struct Match: Sendable, Hashable {
        public var symptom: String
        public var on: Trigger
        /// Label patterns over the symptom's `service` and `node` (`*` and `?`).
        public var labels: [String: String]
        /// Bounds on the symptom's value (when it was detected).
        public var above: Double?
        public var below: Double?
        /// For node symptoms: whether the node must be (or must not be) quarantined.
        public var nodeQuarantined: Bool?
    }

    public struct Step: Sendable, Hashable {
        public var name: String
        public var action: ActionKind
        /// Values, or templates: `{{service}}`, `{{replicas+1}}` (see `RunbookTemplate`).
        public var params: [String: EventValue]
        /// The step's budget, retries included: no retry starts after it.
        public var timeoutSeconds: Int
        public var onFailure: FailureMode
    }

    public struct Limits: Sendable, Hashable {
        /// Runs of this runbook started and not finished, at most.
        public var maxConcurrent: Int
        /// Seconds after a run's start before the runbook runs again for the same subject.
        public var cooldownSeconds: Int
    }

    /// One of the runbook's own test cases (`recoveryctl runbook test`).
    public struct TestCase: Sendable, Hashable {
        public var name: String
        public var symptom: String
        public var service: String?
        public var node: String?
        public var value: Double?
        public var topology: Topology
        public var regions: [String]
        public var alternateRoutes: [String: [String]]
        /// Steps (1-based) whose action the test's actuator fails.
        public var failSteps: Set<Int>
        /// The actions expected, in order, as `{kind, params}`.
        public var expect: [EventValue]
    }

    public var name: String
    public var description: String
    public var match: Match
    public var steps: [Step]
    public var limits: Limits
    public var tests: [TestCase]
    /// The document as given: what is published and hashed.
    public var source: EventValue

    public static let maximumBytes = 1 << 20

    /// Reads a runbook, naming the JSON path and the reason of every error.
    public init(json bytes: [UInt8]) throws(DocumentErrors) {
        guard bytes.count <= Self.maximumBytes else { throw DocumentErrors([DocumentError("$", "the document is larger than \(Self.maximumBytes) bytes")]) }
        let value: EventValue
        do { value = try JSONParser.parse(bytes) } catch { throw DocumentErrors([DocumentError("$", "not JSON: \(error)")]) }
        try self.init(value: value)
    }

    public init(value: EventValue) throws(DocumentErrors) {
        var r = DocumentReader()
        let fields = r.object(value, "$", required: ["runbook", "match", "steps"], optional: ["description", "limits", "tests"])
        name = r.name(fields["runbook"], "$.runbook") ?? ""
        description = r.string(fields["description"], "$.description") ?? ""
        match = Self.match(fields["match"], &r)
        steps = []
        let items = r.array(fields["steps"], "$.steps") ?? []
        if fields["steps"] != nil, items.isEmpty { r.fail("$.steps", "needs at least one step") }
        if items.count > 32 { r.fail("$.steps", "at most 32 steps, not \(items.count)") }
        for (index, item) in items.prefix(32).enumerated() { if let step = Self.step(item, "$.steps[\(index)]", &r) { steps.append(step) } }
        let limitFields = r.object(fields["limits"], "$.limits", required: [], optional: ["max_concurrent", "cooldown_s"])
        limits = Limits(maxConcurrent: r.integer(limitFields["max_concurrent"], "$.limits.max_concurrent", in: 1...1_000) ?? 1,
                        cooldownSeconds: r.integer(limitFields["cooldown_s"], "$.limits.cooldown_s", in: 0...604_800) ?? 0)
        tests = []
        for (index, item) in (r.array(fields["tests"], "$.tests") ?? []).enumerated() {
            if let test = Self.testCase(item, "$.tests[\(index)]", &r) { tests.append(test) }
        }
        source = value
        try r.finish()
    }

    private static func match(_ value: EventValue?, _ r: inout DocumentReader) -> Match {
        let path = "$.match"
        let f = r.object(value, path, required: ["symptom"], optional: ["on", "labels", "threshold", "node_quarantined"])
        var match = Match(symptom: r.name(f["symptom"], path + ".symptom") ?? "", on: .detected, labels: [:])
        if let on = r.string(f["on"], path + ".on") {
            if let trigger = Trigger(rawValue: on) { match.on = trigger } else { r.fail(path + ".on", "must be detected or cleared, not \(on)") }
        }
        let labels = r.object(f["labels"], path + ".labels", required: [], optional: ["service", "node"])
        for key in labels.keys.sorted() {
            guard let pattern = r.string(labels[key], "\(path).labels.\(key)") else { continue }
            if pattern.contains(where: { "[]{}\\!".contains($0) }) { r.fail("\(path).labels.\(key)", "a pattern may use * and ? only") } else { match.labels[key] = pattern }
        }
        let threshold = r.object(f["threshold"], path + ".threshold", required: [], optional: ["above", "below"])
        match.above = r.number(threshold["above"], path + ".threshold.above")
        match.below = r.number(threshold["below"], path + ".threshold.below")
        match.nodeQuarantined = r.bool(f["node_quarantined"], path + ".node_quarantined")
        return match
    }

    private static func step(_ value: EventValue, _ path: String, _ r: inout DocumentReader) -> Step? {
        let f = r.object(value, path, required: ["action", "params"], optional: ["name", "timeout_s", "on_failure"])
        let name = r.string(f["name"], path + ".name")
        if let name, name.isEmpty || name.count > 128 { r.fail(path + ".name", "must be 1 to 128 characters") }
        var kind: ActionKind?
        if let text = r.string(f["action"], path + ".action") {
            kind = ActionKind(rawValue: text)
            if kind == nil { r.fail(path + ".action", "unknown action \(text) (known: \(ActionKind.allCases.map(\.rawValue).joined(separator: ", ")))") }
        }
        let params = r.object(f["params"], path + ".params", required: [], optional: nil)
        for key in params.keys.sorted() {
            switch params[key] {
            case .string(let text)?:
                if let problem = RunbookTemplate.problem(in: text) { r.fail("\(path).params.\(key)", problem) }
            case .int?: break
            default: r.fail("\(path).params.\(key)", "must be a string (a value or a {{template}}) or an integer")
            }
        }
        if let kind, f["params"] != nil {
            for key in RunbookTemplate.requiredParams(kind) where params[key] == nil { r.fail(path + ".params", "\(kind.rawValue) needs param \(key)") }
        }
        let timeout = r.integer(f["timeout_s"], path + ".timeout_s", in: 1...86_400) ?? 300
        var mode = FailureMode.stop
        if let text = r.string(f["on_failure"], path + ".on_failure") {
            if let parsed = FailureMode(rawValue: text) { mode = parsed } else { r.fail(path + ".on_failure", "must be stop, continue or rollback, not \(text)") }
        }
        guard let kind else { return nil }
        return Step(name: name ?? kind.rawValue, action: kind, params: params, timeoutSeconds: timeout, onFailure: mode)
    }

    private static func testCase(_ value: EventValue, _ path: String, _ r: inout DocumentReader) -> TestCase? {
        let f = r.object(value, path, required: ["name", "symptom", "expect"],
                         optional: ["service", "node", "value", "topology", "regions", "alternate_routes", "fail_steps"])
        let name = r.string(f["name"], path + ".name") ?? ""
        let symptom = r.name(f["symptom"], path + ".symptom") ?? ""
        var topology = Topology()
        if let document = f["topology"] {
            _ = r.object(document, path + ".topology", required: [], optional: ["routes", "replicas", "regions", "quarantined"])
            topology = Topology(document: document)
        }
        var alternates: [String: [String]] = [:]
        let routes = r.object(f["alternate_routes"], path + ".alternate_routes", required: [], optional: nil)
        for key in routes.keys.sorted() { alternates[key] = r.strings(routes[key], "\(path).alternate_routes.\(key)") }
        var failing = Set<Int>()
        for (index, item) in (r.array(f["fail_steps"], path + ".fail_steps") ?? []).enumerated() {
            if let step = r.integer(item, "\(path).fail_steps[\(index)]", in: 1...32) { failing.insert(step) }
        }
        var expected: [EventValue] = []
        for (index, item) in (r.array(f["expect"], path + ".expect") ?? []).enumerated() {
            let e = r.object(item, "\(path).expect[\(index)]", required: ["kind", "params"], optional: [])
            if let kind = r.string(e["kind"], "\(path).expect[\(index)].kind"), let params = e["params"] { expected.append(["kind": .string(kind), "params": params]) }
        }
        return TestCase(name: name, symptom: symptom, service: r.string(f["service"], path + ".service"), node: r.string(f["node"], path + ".node"),
                        value: r.number(f["value"], path + ".value"), topology: topology,
                        regions: r.strings(f["regions"], path + ".regions") ?? [], alternateRoutes: alternates, failSteps: failing, expect: expected)
    }
}

extension Topology: Hashable {
    public func hash(into hasher: inout Hasher) {
        hasher.combine(routes)
        hasher.combine(replicas)
        hasher.combine(regions)
        hasher.combine(quarantined)
    }
}
