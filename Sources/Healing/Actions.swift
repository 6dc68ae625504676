import EventStore

/// The recovery actions of EVENTS.md.
public enum ActionKind: String, Sendable, Codable, CaseIterable {
    case switchRoute = "switch_route", scale, failover, quarantine, release
}

/// A validated recovery action: a kind with its params (EVENTS.md, action kinds).
public enum Action: Sendable, Hashable {
    case switchRoute(destination: String, from: String, to: String)
    case scale(service: String, from: Int, to: Int)
    case failover(service: String, fromRegion: String, toRegion: String)
    case quarantine(node: String, reason: String)
    case release(node: String)

    public var kind: ActionKind {
        switch self {
        case .switchRoute: return .switchRoute
        case .scale: return .scale
        case .failover: return .failover
        case .quarantine: return .quarantine
        case .release: return .release
        }
    }

    /// What the action acts on, also the name of its circuit breaker: `route/DEST`,
    /// `service/NAME` or `node/NAME`.
    public var target: String {
        switch self {
        case .switchRoute(let destination, _, _): return "route/\(destination)"
        case .scale(let service, _, _), .failover(let service, _, _): return "service/\(service)"
        case .quarantine(let node, _), .release(let node): return "node/\(node)"
        }
    }

    /// The topology key the action sets (rollback restores keys).
    public var key: TopologyKey {
        switch self {
        case .switchRoute(let destination, _, _): return .route(destination)
        case .scale(let service, _, _): return .replicas(service)
        case .failover(let service, _, _): return .region(service)
        case .quarantine(let node, _), .release(let node): return .quarantine(node)
        }
    }

    public var params: EventValue {
        switch self {
        case .switchRoute(let destination, let from, let to): return ["destination": .string(destination), "from": .string(from), "to": .string(to)]
        case .scale(let service, let from, let to): return ["service": .string(service), "from": .int(Int64(from)), "to": .int(Int64(to))]
        case .failover(let service, let from, let to): return ["service": .string(service), "from_region": .string(from), "to_region": .string(to)]
        case .quarantine(let node, let reason): return ["node": .string(node), "reason": .string(reason)]
        case .release(let node): return ["node": .string(node)]
        }
    }

    /// The `{kind, params}` form of EVENTS.md (an action's effect, a `--exec` request).
    public var document: EventValue { ["kind": .string(kind.rawValue), "params": params] }

    /// Parses and validates `{kind, params}`: an unknown kind, a missing or mistyped param, or a
    /// negative replica count is an `invalidAction` error.
    public init(kind: String, params: EventValue) throws(HealingError) {
        func text(_ key: String) throws(HealingError) -> String {
            guard let value = params[key]?.stringValue, !value.isEmpty else {
                throw .invalidAction("\(kind): param \(key) must be a non-empty string")
            }
            return value
        }
        func count(_ key: String) throws(HealingError) -> Int {
            guard let value = params[key]?.intValue else { throw .invalidAction("\(kind): param \(key) must be an integer") }
            guard value >= 0, value <= 1_000_000 else { throw .invalidAction("\(kind): param \(key) must be between 0 and 1000000, not \(value)") }
            return Int(value)
        }
        guard case .map = params else { throw .invalidAction("\(kind): params must be an object") }
        guard let parsed = ActionKind(rawValue: kind) else {
            throw .invalidAction("unknown kind '\(kind)' (known: \(ActionKind.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        switch parsed {
        case .switchRoute: self = .switchRoute(destination: try text("destination"), from: try text("from"), to: try text("to"))
        case .scale: self = .scale(service: try text("service"), from: try count("from"), to: try count("to"))
        case .failover: self = .failover(service: try text("service"), fromRegion: try text("from_region"), toRegion: try text("to_region"))
        case .quarantine: self = .quarantine(node: try text("node"), reason: params["reason"]?.stringValue ?? "")
        case .release: self = .release(node: try text("node"))
        }
    }

    /// Parses the `{kind, params}` document form.
    public init(document: EventValue) throws(HealingError) {
        guard let kind = document["kind"]?.stringValue else { throw .invalidAction("missing kind") }
        try self.init(kind: kind, params: document["params"] ?? .map([:]))
    }
}
