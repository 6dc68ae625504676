import EventStore

/// One thing a rollback can restore.
public enum TopologyKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    case route(String), replicas(String), region(String), quarantine(String)

    public var description: String {
        switch self {
        case .route(let d): return "route/\(d)"
        case .replicas(let s): return "replicas/\(s)"
        case .region(let s): return "region/\(s)"
        case .quarantine(let n): return "quarantine/\(n)"
        }
    }
}

/// The mesh as the engine knows it: route per destination, replicas and active region per
/// service, quarantined nodes. Built from `topology.declared` and the effects of succeeded
/// actions.
public struct Topology: Codable, Equatable, Sendable {
    public var routes: [String: String] = [:]
    public var replicas: [String: Int] = [:]
    public var regions: [String: String] = [:]
    public var quarantined: [String] = []

    public init(routes: [String: String] = [:], replicas: [String: Int] = [:], regions: [String: String] = [:], quarantined: [String] = []) {
        self.routes = routes
        self.replicas = replicas
        self.regions = regions
        self.quarantined = quarantined.sorted()
    }

    public var document: EventValue {
        ["routes": .map(routes.mapValues { .string($0) }), "replicas": .map(replicas.mapValues { .int(Int64($0)) }),
         "regions": .map(regions.mapValues { .string($0) }), "quarantined": .array(quarantined.map { .string($0) })]
    }

    /// Reads the `topology.declared` payload; malformed parts are skipped (the log is input).
    public init(document: EventValue) {
        for (k, v) in document["routes"]?.mapValue ?? [:] { if let s = v.stringValue { routes[k] = s } }
        for (k, v) in document["replicas"]?.mapValue ?? [:] { if let i = v.intValue, i >= 0 { replicas[k] = Int(i) } }
        for (k, v) in document["regions"]?.mapValue ?? [:] { if let s = v.stringValue { regions[k] = s } }
        if case .array(let items)? = document["quarantined"] { quarantined = Set(items.compactMap(\.stringValue)).sorted() }
    }

    /// Applies the effect of a succeeded action.
    public mutating func apply(_ action: Action) {
        switch action {
        case .switchRoute(let destination, _, let to): routes[destination] = to
        case .scale(let service, _, let to): replicas[service] = to
        case .failover(let service, _, let to): regions[service] = to
        case .quarantine(let node, _): if !quarantined.contains(node) { quarantined = (quarantined + [node]).sorted() }
        case .release(let node): quarantined.removeAll { $0 == node }
        }
    }

    public func isQuarantined(_ node: String) -> Bool { quarantined.contains(node) }

    /// The value of one key, as text ("" when unset), for rollback reports.
    public func value(of key: TopologyKey) -> String {
        switch key {
        case .route(let d): return routes[d] ?? ""
        case .replicas(let s): return replicas[s].map(String.init) ?? ""
        case .region(let s): return regions[s] ?? ""
        case .quarantine(let n): return isQuarantined(n) ? "quarantined" : "active"
        }
    }

    /// Every key whose value differs between the two topologies.
    public func differingKeys(from other: Topology) -> [TopologyKey] {
        var keys: Set<TopologyKey> = []
        for d in Set(routes.keys).union(other.routes.keys) where routes[d] != other.routes[d] { keys.insert(.route(d)) }
        for s in Set(replicas.keys).union(other.replicas.keys) where replicas[s] != other.replicas[s] { keys.insert(.replicas(s)) }
        for s in Set(regions.keys).union(other.regions.keys) where regions[s] != other.regions[s] { keys.insert(.region(s)) }
        for n in Set(quarantined).symmetricDifference(other.quarantined) { keys.insert(.quarantine(n)) }
        return keys.sorted()
    }

    /// The action that sets `key` from its value here to its value in `target`, or nil when the
    /// target has no value for it (a route or service the target never knew).
    public func action(setting key: TopologyKey, to target: Topology, reason: String) -> Action? {
        switch key {
        case .route(let d):
            guard let to = target.routes[d], let from = routes[d], from != to else { return nil }
            return .switchRoute(destination: d, from: from, to: to)
        case .replicas(let s):
            guard let to = target.replicas[s], let from = replicas[s], from != to else { return nil }
            return .scale(service: s, from: from, to: to)
        case .region(let s):
            guard let to = target.regions[s], let from = regions[s], from != to else { return nil }
            return .failover(service: s, fromRegion: from, toRegion: to)
        case .quarantine(let n):
            switch (isQuarantined(n), target.isQuarantined(n)) {
            case (true, false): return .release(node: n)
            case (false, true): return .quarantine(node: n, reason: reason)
            default: return nil
            }
        }
    }

    /// The inverse of `action` as it would run now: the action that puts back what this
    /// topology holds for the action's key.
    public func inverse(of action: Action) -> Action? {
        var after = self
        after.apply(action)
        return after.action(setting: action.key, to: self, reason: "inverse of \(action.kind.rawValue)")
    }

    /// Safe order for compensations: fail services back first, then release nodes (a region
    /// being failed back to may need them), then scale, then routes, quarantines last.
    public static func compensationRank(_ action: Action) -> Int {
        switch action {
        case .failover: return 0
        case .release: return 1
        case .scale: return 2
        case .switchRoute: return 3
        case .quarantine: return 4
        }
    }
}
