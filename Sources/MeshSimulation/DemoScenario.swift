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
            applyFaults(cycle: cycle, to: mesh, flapping: flapping, faults: Set(Fault.allCases))
            _ = try await engine.cycle(mesh.observations())
            clock.advance(nanoseconds: tickSeconds * 1_000_000_000)
        }
        // Roll back to the last event before the first symptom, once every breaker is closed.
        let firstSymptom = try store.query(EventQuery(type: HealingEvent.symptomDetected, limit: 1)).collect().first?.seq ?? 1
        let before = max(1, firstSymptom - 1)
        let report = try await engine.rollback(to: before)
        return Result(beforeIncidentSeq: before, rollback: report, cycles: lastCycle)
    }

    /// The demo's faults, each of which a rehearsal can run alone.
    public enum Fault: String, Sendable, CaseIterable {
        /// eu-west goes down at cycle 3 (with a flaky actuator) and comes back at 8.
        case regionOutage = "region-outage"
        /// Twelve services throw errors at cycle 6.
        case errorStorm = "error-storm"
        /// A node flaps from cycle 10, unreachable, then reachable, healthy at 30.
        case flappingNode = "flapping-node"
    }

    func applyFaults(cycle: Int, to mesh: Mesh, flapping: String, faults: Set<Fault>) {
        switch cycle {
        case 3 where faults.contains(.regionOutage):
            mesh.regionOutage("eu-west", down: true)
            mesh.failActuator(times: 2)
        case 6 where faults.contains(.errorStorm): mesh.errors(on: stormServices, active: true)
        case 7 where faults.contains(.errorStorm): mesh.errors(on: stormServices, active: false)
        case 8 where faults.contains(.regionOutage): mesh.regionOutage("eu-west", down: false)
        case 10 where faults.contains(.flappingNode): mesh.flap(flapping, flapping: true, unreachable: true)
        case 20 where faults.contains(.flappingNode): mesh.flap(flapping, flapping: true, unreachable: false)
        case 30 where faults.contains(.flappingNode): mesh.flap(flapping, flapping: false, unreachable: false)
        default: break
        }
    }

    /// Rehearses `runbooks` (the engine's only ones) on the mesh's observations under `faults`,
    /// acting through the dry-run actuator: nothing in the mesh changes, the engine's topology
    /// follows what the actions would do. Returns every action planned and that topology.
    public func rehearse(_ runbooks: [RunbookDocument], faults: Set<Fault>, store: EventStore, clock: ManualClock) async throws
        -> (actions: [(id: String, action: Action, outcome: ActionOutcome)], topology: Topology) {
        let mesh = makeMesh(clock: clock)
        var config = config()
        config.runbooks = runbooks
        let engine = try await HealingEngine.open(store: store, config: config, actuator: DryRunActuator(),
                                                  sleeper: ManualSleeper(clock: clock), declaring: mesh.currentTopology)
        var actions: [(id: String, action: Action, outcome: ActionOutcome)] = []
        for cycle in 1...34 {
            applyFaults(cycle: cycle, to: mesh, flapping: nodeNames[2], faults: faults)
            actions += try await engine.cycle(mesh.observations()).actions
            clock.advance(nanoseconds: tickSeconds * 1_000_000_000)
        }
        return (actions, await engine.topology)
    }
}
