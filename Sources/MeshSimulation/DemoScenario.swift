import EventStore
import Healing

/// The demo incident (`recoveryctl demo`, `make demo`): a region outage healed by failover
/// through a flaky actuator (retried with backoff), an action storm cut by the rate limiter, a
/// flapping node whose quarantine opens a breaker that later half-opens and closes, and, once
/// the breakers have closed, a rollback to before the incident. Deterministic for a seed.
public struct DemoScenario: Sendable {
    public let seed: UInt64
    public let nodeCount: Int
    /// Simulated seconds per MAPE-K cycle.
    public let tickSeconds: Int64 = 5
    /// A policy every action must pass (nil: none).
    public var actionPolicy: (any ActionPolicy)?

    public init(seed: UInt64 = 1, nodes: Int = 6) {
        self.seed = seed
        self.nodeCount = max(3, nodes)
    }

    public static let start = Timestamp(seconds: 1_795_932_000)  // 2026-11-29T06:00:00Z
    public static let regions = ["eu-west", "eu-central"]

    /// Node names come from the seed, so two seeds give two different meshes.
    public var nodeNames: [String] {
        var rng = SplitMix64(seed: seed)
        let prefix = String(rng.next() & 0xffff, radix: 16)
        return (1...nodeCount).map { "node-\(prefix)-\($0)" }
    }

    public var stormServices: [String] { (1...12).map { $0 < 10 ? "svc-0\($0)" : "svc-\($0)" } }

    /// The store options the scenario needs: its clock and a node id from the seed.
    public func storeOptions(clock: ManualClock) -> StoreOptions {
        var options = StoreOptions()
        options.clock = clock
        options.nodeID = "agent-\(String(seed, radix: 16))"
        // A replica id from the seed too, so the same seed gives the same action ids.
        options.replicaID = "sim-\(String(seed, radix: 16))"
        options.vocabularies = [OperatorVocabulary(), HealingVocabulary()]
        return options
    }

    public func makeMesh(clock: ManualClock) -> Mesh {
        let names = nodeNames
        var nodes: [String: Mesh.Node] = [:]
        for (i, name) in names.enumerated() { nodes[name] = Mesh.Node(region: Self.regions[i % 2]) }
        var topology = Topology(routes: ["api": names[0], "db": names[0]])
        for service in ["api", "db", "cache"] {
            topology.replicas[service] = 3
            topology.regions[service] = "eu-west"
        }
        for service in stormServices {
            topology.replicas[service] = 2
            topology.regions[service] = "eu-central"
        }
        return Mesh(nodes: nodes, topology: topology, clock: clock)
    }

    public func config() -> HealingConfig {
        let names = nodeNames
        var config = HealingConfig(seed: seed, regions: Self.regions, alternateRoutes: ["api": [names[0], names[1]], "db": [names[0], names[1]]])
        config.agent = "agent-\(String(seed, radix: 16))"
        config.actionPolicy = actionPolicy
        return config
    }

    /// What the run did, for the timeline and the tests.
    public struct Result: Sendable {
        public var beforeIncidentSeq: UInt64
        public var rollback: RollbackReport
        public var cycles: Int
    }

    /// Runs the scenario on `store` (which must use `clock`). `stopAfterCycle` ends the run
    /// early (a restart test continues it with `resume`).
    public func run(store: EventStore, clock: ManualClock, mesh: Mesh, fromCycle: Int = 1, stopAfterCycle: Int? = nil) async throws -> Result? {
        let engine = try await HealingEngine.open(store: store, config: config(), actuator: mesh,
                                                  sleeper: ManualSleeper(clock: clock), declaring: mesh.currentTopology)
        let flapping = nodeNames[2]
        let lastCycle = 34
        for cycle in fromCycle...lastCycle {
            if let stop = stopAfterCycle, cycle > stop { return nil }
            switch cycle {
            case 3:
                mesh.regionOutage("eu-west", down: true)
                mesh.failActuator(times: 2)
            case 6: mesh.errors(on: stormServices, active: true)
            case 7: mesh.errors(on: stormServices, active: false)
            case 8: mesh.regionOutage("eu-west", down: false)
            case 10: mesh.flap(flapping, flapping: true, unreachable: true)
            case 20: mesh.flap(flapping, flapping: true, unreachable: false)
            case 30: mesh.flap(flapping, flapping: false, unreachable: false)
            default: break
            }
            _ = try await engine.cycle(mesh.observations())
            clock.advance(nanoseconds: tickSeconds * 1_000_000_000)
        }
        // Roll back to the last event before the first symptom, once every breaker is closed.
        let firstSymptom = try store.query(EventQuery(type: HealingEvent.symptomDetected, limit: 1)).collect().first?.seq ?? 1
        let before = max(1, firstSymptom - 1)
        let report = try await engine.rollback(to: before)
        return Result(beforeIncidentSeq: before, rollback: report, cycles: lastCycle)
    }
}
