import ArgumentParser
import EventStore
import Healing

struct AuditCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "The causal tree behind an action or an incident: symptom, plan, attempts, breaker and limiter decisions, certificate verdicts, outcome, effect, rollback.",
        discussion: "Built from the events' causation and correlation links: an event hangs under the event its causation names, an action's attempts under its plan, the rest of the incident under the incident. Causes outside the incident (a certificate verdict) are fetched by id.")

    @OptionGroup var global: GlobalArguments
    @Argument(help: "An action id (act-...).") var action: String?
    @Option(help: "An incident's correlation id instead.") var correlation: String?
    @Option(help: "tree or json.") var format: AuditFormat = .tree

    enum AuditFormat: String, ExpressibleByArgument, CaseIterable { case tree, json }

    func run() throws {
        guard (action == nil) != (correlation == nil) else { throw CLIFailure.usage("give an ACTION_ID or --correlation ID") }
        let store = try global.openExisting()
        defer { store.close() }
        var events: [Event]
        let title: String
        if let action {
            events = try storeCall { try store.read(stream: "action/\(action)").collect() }
            guard !events.isEmpty else { throw CLIFailure.usage("no action \(action) in the log") }
            title = "action \(action)"
            // The limiter and policy decisions that name it.
            for type in [HealingEvent.rateLimitThrottled, "policy.decision"] {
                events += try storeCall { try store.query(EventQuery(type: type)).collect().filter { $0.data["action"]?.stringValue == action } }
            }
        } else {
            events = try storeCall { try store.query(EventQuery(correlation: correlation)).collect() }
            guard !events.isEmpty else { throw CLIFailure.usage("no events with correlation \(correlation ?? "")") }
            title = "incident \(correlation ?? "")"
        }
        let tree = try storeCall { try CausalTree(events, causes: { try store.event(id: $0) }) }
        switch format {
        case .json: print(JSONWriter.encode(["root": .string(title), "events": .int(Int64(tree.events.count)), "tree": .array(tree.roots.map(tree.json))]))
        case .tree:
            print(title)
            for root in tree.roots { tree.printLines(root, depth: 1) }
        }
    }
}

/// Events arranged by cause: each under the event its causation names when that is in the
/// tree, an action's later events under its plan, the rest at the top, each level in log order.
struct CausalTree {
    private(set) var events: [String: Event] = [:]
    private(set) var children: [String: [String]] = [:]
    private(set) var roots: [String] = []

    /// `causes` fetches an event outside the set by id (a cause recorded elsewhere); ancestors
    /// are followed up to 16 links.
    init(_ found: [Event], causes: (String) throws -> Event?) throws {
        for event in found { events[event.id] = event }
        var pending = found.compactMap(\.causation)
        var depth = 0
        while !pending.isEmpty && depth < 16 {
            var next: [String] = []
            for id in pending where events[id] == nil {
                guard let cause = try causes(id) else { continue }
                events[id] = cause
                if let further = cause.causation { next.append(further) }
            }
            pending = next
            depth += 1
        }
        var plans: [String: String] = [:]
        for event in events.values where event.type == HealingEvent.actionPlanned {
            if let action = event.data["action"]?.stringValue { plans[action] = event.id }
        }
        for event in events.values.sorted(by: { $0.seq < $1.seq }) {
            if let cause = event.causation, events[cause] != nil, cause != event.id {
                children[cause, default: []].append(event.id)
            } else if event.type != HealingEvent.actionPlanned, let action = event.data["action"]?.stringValue, let plan = plans[action], plan != event.id {
                children[plan, default: []].append(event.id)
            } else {
                roots.append(event.id)
            }
        }
    }

    func line(_ e: Event) -> String {
        let d = e.data
        var facts: [String] = []
        for key in ["symptom", "service", "node", "kind", "target", "attempt", "reason", "breaker", "from", "to", "limiter", "error",
                    "verdict", "spiffe_id", "duration_ms", "policy", "version", "policy_version", "result", "rule", "runbook", "run", "step", "outcome"] {
            if let value = d[key], value != .null { facts.append("\(key)=\(value.stringValue ?? JSONWriter.encode(value))") }
        }
        if case .array(let reasons)? = d["reasons"], !reasons.isEmpty { facts.append("reasons=" + reasons.compactMap(\.stringValue).joined(separator: ",")) }
        if let effect = d["effect"] { facts.append("effect=" + JSONWriter.encode(effect)) }
        return "seq \(e.seq)  \(e.time.rfc3339.prefix(23))  \(e.type)  \(facts.joined(separator: " "))"
    }

    func printLines(_ id: String, depth: Int) {
        guard let event = events[id] else { return }
        print(String(repeating: "  ", count: depth - 1) + "└ " + line(event))
        for child in children[id] ?? [] { printLines(child, depth: depth + 1) }
    }

    func json(_ id: String) -> EventValue {
        guard let event = events[id] else { return .null }
        return ["seq": .int(Int64(clamping: event.seq)), "id": .string(event.id), "type": .string(event.type), "time": .string(event.time.rfc3339),
                "data": event.data, "children": .array((children[id] ?? []).map(json))]
    }
}
