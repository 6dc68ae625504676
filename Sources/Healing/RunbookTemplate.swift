import EventStore

/// The templates of a runbook step's params: `{{name}}`, or `{{name+N}}` / `{{name-N}}` for
/// integers. A param that is one template alone takes the variable's type (`{{replicas+1}}` is
/// an integer); text around templates makes a string. Variables, for the symptom being answered:
///
/// - `symptom`, `service`, `node`, `value`: the symptom and its labels;
/// - `region` and `replicas`: the service's active region and replica count in the topology;
/// - `next_region`: the first of the agent's regions that is not `region`;
/// - `route` and `next_route`: the service's route and the first alternate that is not it.
///
/// A variable with no value (a node symptom has no `service`) means the step cannot be planned
/// for this symptom, and the runbook does not run for it.
public enum RunbookTemplate {
    public static let variables: Set<String> = ["symptom", "service", "node", "value", "region", "next_region", "replicas", "route", "next_route"]

    /// The params each action needs (`Action.init(kind:params:)`).
    public static func requiredParams(_ kind: ActionKind) -> [String] {
        switch kind {
        case .switchRoute: return ["destination", "from", "to"]
        case .scale: return ["service", "from", "to"]
        case .failover: return ["service", "from_region", "to_region"]
        case .quarantine, .release: return ["node"]
        }
    }

    /// What is wrong with the templates in `text`, or nil.
    public static func problem(in text: String) -> String? {
        switch parse(text) {
        case .failure(let problem): return problem.message
        case .success: return nil
        }
    }

    /// `text` with its templates filled from `scope`; nil when a variable has no value there.
    public static func render(_ text: String, scope: [String: EventValue]) -> EventValue? {
        guard case .success(let parts) = parse(text) else { return nil }
        if parts.count == 1, case .variable(let name, let offset) = parts[0] { return value(name, offset, scope) }
        var out = ""
        for part in parts {
            switch part {
            case .text(let literal): out += literal
            case .variable(let name, let offset):
                switch value(name, offset, scope) {
                case .string(let s)?: out += s
                case .int(let n)?: out += String(n)
                case .double(let d)?: out += String(d)
                default: return nil
                }
            }
        }
        return .string(out)
    }

    private static func value(_ name: String, _ offset: Int64, _ scope: [String: EventValue]) -> EventValue? {
        guard let value = scope[name], value != .null else { return nil }
        guard offset != 0 else { return value }
        guard case .int(let number) = value else { return nil }
        let (sum, overflow) = number.addingReportingOverflow(offset)
        return overflow ? nil : .int(sum)
    }

    enum Part: Equatable {
        case text(String)
        case variable(String, offset: Int64)
    }

    struct Problem: Error { let message: String }

    static func parse(_ text: String) -> Result<[Part], Problem> {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else { return .failure(Problem(message: "a {{ without its }}")) }
            let inner = rest[open.upperBound..<close.lowerBound].filter { $0 != " " }
            var name = inner[...]
            var offset: Int64 = 0
            if let sign = inner.firstIndex(where: { $0 == "+" || $0 == "-" }) {
                name = inner[..<sign]
                guard let amount = Int64(inner[inner.index(after: sign)...]), amount >= 0, amount <= 1_000_000 else {
                    return .failure(Problem(message: "{{\(inner)}}: an offset is a whole number up to 1000000"))
                }
                offset = inner[sign] == "+" ? amount : -amount
            }
            guard variables.contains(String(name)) else {
                return .failure(Problem(message: "unknown template variable \(name) (known: \(variables.sorted().joined(separator: ", ")))"))
            }
            if offset != 0, name != "replicas" { return .failure(Problem(message: "{{\(inner)}}: only replicas takes an offset")) }
            parts.append(.variable(String(name), offset: offset))
            rest = rest[close.upperBound...]
        }
        if rest.contains("}}") { return .failure(Problem(message: "a }} without its {{")) }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        return .success(parts)
    }
}

extension RunbookDocument {
    /// Whether the runbook answers a symptom with these labels and value, in this topology.
    func matches(symptom: String, trigger: Trigger, service: String?, node: String?, value: Double?, topology: Topology) -> Bool {
        guard match.symptom == symptom, match.on == trigger else { return false }
        for (label, pattern) in match.labels {
            let subject = label == "service" ? service : node
            guard let subject, Glob(pattern)?.matches(subject) ?? false else { return false }
        }
        if let above = match.above { guard let value, value > above else { return false } }
        if let below = match.below { guard let value, value < below else { return false } }
        if let quarantined = match.nodeQuarantined {
            guard let node, topology.isQuarantined(node) == quarantined else { return false }
        }
        return true
    }

    /// The actions of the steps for one symptom, or nil when a template has no value for it.
    func plannedActions(scope: [String: EventValue]) -> [Action]? {
        var actions: [Action] = []
        for step in steps {
            var params: [String: EventValue] = [:]
            for (key, raw) in step.params {
                if case .string(let text) = raw {
                    guard let rendered = RunbookTemplate.render(text, scope: scope) else { return nil }
                    params[key] = rendered
                } else {
                    params[key] = raw
                }
            }
            guard let action = try? Action(kind: step.action.rawValue, params: .map(params)) else { return nil }
            actions.append(action)
        }
        return actions
    }

    /// The template variables for a symptom, from the topology and the agent's config.
    static func scope(symptom: String, service: String?, node: String?, value: Double?, topology: Topology,
                      regions: [String], alternateRoutes: [String: [String]]) -> [String: EventValue] {
        var scope: [String: EventValue] = ["symptom": .string(symptom)]
        if let service {
            scope["service"] = .string(service)
            if let region = topology.regions[service] {
                scope["region"] = .string(region)
                if let next = regions.first(where: { $0 != region }) { scope["next_region"] = .string(next) }
            }
            if let replicas = topology.replicas[service] { scope["replicas"] = .int(Int64(replicas)) }
            if let route = topology.routes[service] {
                scope["route"] = .string(route)
                if let next = alternateRoutes[service]?.first(where: { $0 != route }) { scope["next_route"] = .string(next) }
            }
        }
        if let node { scope["node"] = .string(node) }
        if let value { scope["value"] = .double(value) }
        return scope
    }
}
