import EventStore
import Healing

/// A simulated mesh: nodes in regions, services with replicas in a region, routes, and faults.
/// It acts as the engine's `Actuator` against its own model and produces the observations the
/// engine monitors, all on a manual clock, so a scenario is a pure function of its seed.
public final class Mesh: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    public struct Node: Sendable, Equatable {
        public var region: String
        /// Reports low availability.
        public var flapping = false
        /// The actuator cannot reach it (actions on it fail, not retryably).
        public var unreachable = false
        /// Reports no availability at all.
        public var down = false
    }

    private let lock = Mutex()
    private var nodes: [String: Node]
    private var topology: Topology
    private var downRegions: Set<String> = []
    private var erroring: Set<String> = []
    private var flakyFailures = 0
    private var latency: [String: Double] = [:]
    /// Latency of a healthy route, in milliseconds.
    public let baseLatencyMilliseconds = 40.0
    public let clock: ManualClock
    /// Simulated time an actuator call takes.
    public let actuatorLatencyNanoseconds: Int64 = 200_000_000

    public init(nodes: [String: Node], topology: Topology, clock: ManualClock) {
        self.nodes = nodes
        self.topology = topology
        self.clock = clock
    }

    public var currentTopology: Topology { lock.withLock { topology } }
    public var nodeNames: [String] { lock.withLock { nodes.keys.sorted() } }

    // MARK: Faults

    public func regionOutage(_ region: String, down: Bool) { lock.withLock { if down { downRegions.insert(region) } else { downRegions.remove(region) } } }
    public func errors(on services: [String], active: Bool) {
        lock.withLock { if active { erroring.formUnion(services) } else { erroring.subtract(services) } }
    }
    public func flap(_ node: String, flapping: Bool, unreachable: Bool) {
        lock.withLock {
            nodes[node]?.flapping = flapping
            nodes[node]?.unreachable = unreachable
        }
    }
    /// Requests to `service` take `milliseconds` while its route runs through `via`; switching
    /// the route away from `via` ends the spike (nil clears it).
    public func latencySpike(on service: String, milliseconds: Double?) {
        lock.withLock { latency[service] = milliseconds }
    }
    /// A node goes down (unavailable and unreachable) or comes back.
    public func nodeDown(_ node: String, down: Bool) {
        lock.withLock {
            nodes[node]?.down = down
            nodes[node]?.unreachable = down
        }
    }
    /// The next `count` actuator calls fail with a retryable error.
    public func failActuator(times count: Int) { lock.withLock { flakyFailures = count } }

    // MARK: Monitoring

    /// Availability and error rate per service, availability per node.
    public func observations() -> [Observation] {
        lock.withLock {
            var out: [Observation] = []
            for service in topology.regions.keys.sorted() {
                let region = topology.regions[service] ?? ""
                out.append(Observation(service: service, metric: "availability", value: downRegions.contains(region) ? 0 : 1))
                out.append(Observation(service: service, metric: "error_rate", value: erroring.contains(service) ? 0.5 : 0.01))
                if topology.routes[service] != nil {
                    out.append(Observation(service: service, metric: "latency_ms", value: latency[service] ?? baseLatencyMilliseconds))
                }
            }
            for name in nodes.keys.sorted() {
                guard let node = nodes[name] else { continue }
                let value = downRegions.contains(node.region) || node.down ? 0 : node.flapping ? 0.2 : 1
                out.append(Observation(node: name, metric: "availability", value: value))
            }
            return out
        }
    }
}

extension Mesh: Actuator {
    public func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action {
        clock.advance(nanoseconds: actuatorLatencyNanoseconds)
        try lock.withLock { () throws(ActuatorFailure) in
            if flakyFailures > 0 {
                flakyFailures -= 1
                throw ActuatorFailure("actuator timed out", retryable: true)
            }
            switch action {
            case .quarantine(let node, _), .release(let node):
                guard let state = nodes[node] else { throw ActuatorFailure("no node \(node)", retryable: false) }
                if state.unreachable { throw ActuatorFailure("node \(node) unreachable", retryable: false) }
            case .failover(_, _, let to):
                if downRegions.contains(to) { throw ActuatorFailure("region \(to) is down", retryable: false) }
            case .scale(let service, _, _):
                if let region = topology.regions[service], downRegions.contains(region) {
                    throw ActuatorFailure("region \(region) is down", retryable: false)
                }
            case .switchRoute(_, _, let to):
                if nodes[to]?.unreachable == true { throw ActuatorFailure("node \(to) unreachable", retryable: false) }
            }
            topology.apply(action)
            // A route switched away from a slow path is fast again.
            if case .switchRoute(let destination, _, _) = action { latency[destination] = nil }
        }
        return action
    }
}
