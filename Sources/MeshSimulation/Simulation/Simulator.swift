#if canImport(Glibc)
import Glibc
#endif
import EventStore
import Healing
import Projections

/// What one seed did and whether every invariant held.
public struct SeedReport: Sendable {
    public var seed: UInt64
    public var cycles = 0
    public var events: UInt64 = 0
    public var faults: [Fault: Int] = [:]
    /// The first invariant that failed, or nil.
    public var failure: String?
    public var passed: Bool { failure == nil }
}

/// A deterministic simulation of one agent on a real store, driven by a seed: the healing
/// loop over a simulated mesh, with every source of non-determinism (clock, jitter, the mesh,
/// the faults) from the seed. After the run it checks the engine's invariants (`Invariants`).
///
/// The faults: actuator failures, timeouts and slow calls; clock jumps forward and back; the
/// process killed during an actuator call or between cycles and restarted from its store; the
/// map at its maximum size; commits failing with EIO or ENOSPC at the LMDB boundary; malformed
/// events arriving by import, and written by an older version. Built around one store per
/// agent; replicas plug in as more agents over stores of their own.
public struct Simulator: Sendable {
    public let seed: UInt64
    public var cycles: Int

    public init(seed: UInt64, cycles: Int = 14) {
        self.seed = seed
        self.cycles = cycles
    }

    /// The command that runs this seed again.
    public var reproduction: String { "recoveryctl simulate --seeds \(seed) --cycles \(cycles) --keep" }

    /// Runs the seed in `directory` (a store is made there).
    public func run(in directory: String) async -> SeedReport {
        var run = SimulationRun(seed: seed, directory: directory)
        var report = SeedReport(seed: seed)
        do {
            try await run.start()
            for cycle in 1...cycles {
                try await run.cycle(cycle)
                report.cycles = cycle
            }
            try await run.finish()
        } catch let failure as InvariantFailure {
            report.failure = failure.description
        } catch {
            report.failure = "unexpected error: \(error)"
        }
        report.faults = run.faults.merging(run.actuator.faultCounts) { $0 + $1 }
        report.events = (try? run.store?.head().seq) ?? 0
        run.close()
        return report
    }
}

/// An invariant that did not hold, in words.
struct InvariantFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Fails the seed with `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw InvariantFailure(message()) }
}

/// The state of one seed's run: the mesh, the store, the engine and the faults in play.
struct SimulationRun {
    let seed: UInt64
    let directory: String
    var rng: SplitMix64
    let scenario: DemoScenario
    let clock = ManualClock(DemoScenario.start)
    let mesh: Mesh
    let actuator: FaultyActuator
    let commitFaults = CommitFaults()
    var store: EventStore?
    var engine: HealingEngine?
    var faults: [Fault: Int] = [:]
    /// (seq, hash) of the head after every acknowledged append batch the run saw.
    var acknowledged: [(UInt64, Digest)] = []
    /// The map's ceiling: small for seeds that meet a full disk, raised once it is met.
    var maximumMapSize: Int
    var firstSymptomSeq: UInt64?

    init(seed: UInt64, directory: String) {
        self.seed = seed
        self.directory = directory
        var rng = SplitMix64(seed: seed)
        scenario = DemoScenario(seed: seed, nodes: 3 + Int(rng.next() % 4))
        mesh = scenario.makeMesh(clock: clock)
        actuator = FaultyActuator(mesh: mesh, clock: clock, seed: rng.next(), failurePercent: rng.next() % 15,
                                  timeoutPercent: rng.next() % 8, slowPercent: rng.next() % 10)
        maximumMapSize = rng.next() % 8 == 0 ? 1 << 20 : 1 << 30
        self.rng = rng
    }

    var storePath: String { directory + "/store" }

    mutating func start() async throws {
        try openStore()
        try await openEngine()
    }

    mutating func openStore(vocabularies: Bool = true) throws {
        var options = scenario.storeOptions(clock: clock)
        if !vocabularies { options.vocabularies = [] }
        options.mapSize = 1 << 20
        options.maximumMapSize = maximumMapSize
        let faults = commitFaults
        options.commitFault = { faults.next() }
        store = try EventStore.open(at: storePath, options: options)
    }

    mutating func openEngine() async throws {
        guard let store else { throw InvariantFailure("no store") }
        engine = try await HealingEngine.open(store: store, config: scenario.config(), actuator: actuator,
                                              sleeper: ManualSleeper(clock: clock), declaring: mesh.currentTopology)
        try acknowledge()
    }

    /// The process dies: the engine is dropped where it stands, the store closed.
    mutating func close() {
        engine = nil
        store?.close()
        store = nil
        actuator.releaseKilled()
    }

    mutating func restart(vocabularies: Bool = true) async throws {
        trace("restart")
        close()
        try openStore(vocabularies: vocabularies)
        try await openEngine()
    }

    mutating func acknowledge() throws {
        guard let store else { return }
        let head = try store.head()
        if head.seq > 0 { acknowledged.append((head.seq, head.hash)) }
    }

    mutating func count(_ fault: Fault) { faults[fault, default: 0] += 1 }

    /// One MAPE-K cycle with the seed's world changes and faults around it.
    mutating func cycle(_ number: Int) async throws {
        trace("cycle \(number)")
        changeTheWorld()
        try await injectBetweenCycles()
        // Armed for this cycle only; counted by the actuator if a call comes to kill.
        actuator.armKill(rng.next() % 12 == 0)
        var injectedCommitFault = false
        if rng.next() % 14 == 0 {
            let eio = rng.next() % 2 == 0
            count(eio ? .commitEIO : .commitENOSPC)
            commitFaults.arm(eio ? EIO : ENOSPC)
            injectedCommitFault = true
        }
        let headBefore = try store?.head().seq ?? 0
        trace("run cycle, head \(headBefore)")
        let outcome = await runCycle()
        trace("outcome \(outcome)")
        actuator.armKill(false)
        switch outcome {
        case .completed:
            commitFaults.disarm()
            try acknowledge()
        case .killed:
            commitFaults.disarm()
            try await restart()
        case .failed(let error):
            let injectedFired = injectedCommitFault && !commitFaults.isArmed
            commitFaults.disarm()
            guard case .storeFailure(let storeError) = error else { throw InvariantFailure("cycle \(number): \(error)") }
            if case .diskFull = storeError {
                count(.diskFull)
                // The operator frees space: the map may grow again.
                maximumMapSize = 1 << 30
            } else {
                try require(injectedFired, "cycle \(number): a store failure nothing injected: \(storeError)")
            }
            // A failed append is never acknowledged: nothing of it is in the log.
            let head = try store?.head().seq ?? 0
            try require(head >= headBefore, "cycle \(number): the head went back from \(headBefore) to \(head)")
            try require(acknowledged.last.map { $0.0 <= head } ?? true, "cycle \(number): acknowledged events vanished")
            // The engine works again once the fault clears.
            try await restart()
        }
        if firstSymptomSeq == nil, let store {
            firstSymptomSeq = try store.query(EventQuery(type: HealingEvent.symptomDetected, limit: 1)).collect().first?.seq
        }
        clock.advance(nanoseconds: scenario.tickSeconds * 1_000_000_000)
    }

    /// The engine's cycle in a task of its own: a kill inside the actuator ends the wait
    /// while that task stays suspended for good, as a dead process would.
    mutating func runCycle() async -> CycleOutcome {
        guard let engine else { return .failed(.store("no engine")) }
        let observations = mesh.observations()
        let latch = CycleLatch()
        actuator.onKill = { latch.finish(.killed) }
        Task {
            do throws(HealingError) {
                _ = try await engine.cycle(observations)
                latch.finish(.completed)
            } catch {
                latch.finish(.failed(error))
            }
        }
        return await latch.wait()
    }

    /// Outages, flapping nodes, error storms and latency, chosen by the seed.
    mutating func changeTheWorld() {
        let nodes = mesh.nodeNames
        switch rng.next() % 10 {
        case 0: mesh.regionOutage(DemoScenario.regions[Int(rng.next() % 2)], down: rng.next() % 2 == 0)
        case 1, 6: mesh.errors(on: Array(scenario.stormServices.prefix(Int(1 + rng.next() % 12))), active: rng.next() % 3 != 0)
        case 2: mesh.flap(nodes[Int(rng.next() % UInt64(nodes.count))], flapping: rng.next() % 2 == 0, unreachable: rng.next() % 3 == 0)
        case 3: mesh.latencySpike(on: ["api", "db"][Int(rng.next() % 2)], milliseconds: rng.next() % 2 == 0 ? 900 : nil)
        case 4: mesh.nodeDown(nodes[Int(rng.next() % UInt64(nodes.count))], down: rng.next() % 2 == 0)
        case 5: mesh.failActuator(times: Int(rng.next() % 4))
        default: break
        }
    }

    /// Clock jumps, restarts and malformed input between two cycles.
    mutating func injectBetweenCycles() async throws {
        let roll = rng.next() % 20
        switch roll {
        case 0:
            count(.clockForward)
            clock.advance(nanoseconds: Int64(1 + rng.next() % 600) * 1_000_000_000)
        case 1:
            count(.clockBack)
            clock.advance(nanoseconds: -Int64(1 + rng.next() % 300) * 1_000_000_000)
        case 2:
            count(.killedBetweenCycles)
            try await restart()
        case 3:
            count(.malformedImport)
            try importMalformed()
        case 4:
            count(.legacyMalformed)
            try await writeLegacyMalformed()
        default:
            break
        }
    }

    /// A malformed healing event arriving by import is refused whole, and nothing is written.
    mutating func importMalformed() throws {
        guard let store else { return }
        let before = try store.head()
        let good = NewEvent(type: "operator.note", stream: "operator/sim", data: ["text": "imported with a poison"])
        do {
            _ = try store.appendBlocking([good, poison()])
            throw InvariantFailure("a malformed import was written")
        } catch let error as StoreError {
            guard case .invalidEvent(let index, _, _) = error else {
                if case .diskFull = error { return }
                throw InvariantFailure("a malformed import failed as \(error), not as invalid input")
            }
            try require(index == 1, "the refusal names event \(index), not the poison")
        }
        let after = try store.head()
        try require(after.seq == before.seq && after.hash == before.hash, "a refused import changed the log")
    }

    /// A malformed event written by a version without payload checks: the engine restarts on
    /// a log that holds it, and counts it.
    mutating func writeLegacyMalformed() async throws {
        close()
        try openStore(vocabularies: false)
        do {
            _ = try store?.appendBlocking([poison()])
        } catch {
            guard case .diskFull = error else { throw error }
        }
        try acknowledge()
        try await restart()
    }

    /// One malformed healing event, chosen by the seed.
    mutating func poison() -> NewEvent {
        let poisons: [(String, EventValue)] = [
            (HealingEvent.actionStarted, ["action": "act-x", "attempt": 1, "window_s": .int(.max), "limiter": "scale", "breaker": "service/api"]),
            (HealingEvent.actionSucceeded, ["action": "act-x", "attempt": 1, "duration_ms": .int(.max), "effect": ["kind": "scale"]]),
            (HealingEvent.breakerTransitioned, ["breaker": "service/api", "to": "ajar", "reason": "r"]),
            (HealingEvent.symptomDetected, ["symptom": "s", "metric": "m", "value": "high", "threshold": 1]),
            (HealingEvent.topologyDeclared, ["replicas": ["api": -4]]),
            (HealingEvent.cycle, ["cycle": "many"]),
        ]
        let (type, data) = poisons[Int(rng.next() % UInt64(poisons.count))]
        return NewEvent(type: type, stream: "action/act-x", data: data)
    }

    /// Every fault cleared, a last restart, a rollback to before the first symptom, then the
    /// invariants over the whole log.
    mutating func finish() async throws {
        commitFaults.disarm()
        maximumMapSize = 1 << 30
        try await restart()
        mesh.failActuator(times: 0)
        if let target = firstSymptomSeq.map({ max(1, $0 - 1) }), let engine {
            let report: RollbackReport
            do { report = try await engine.rollback(to: target) } catch {
                throw InvariantFailure("rollback to \(target): \(error)")
            }
            try acknowledge()
            try await Invariants.rollbackRestored(report, target: target, store: store, engine: engine)
        }
        close()
        try openStore()
        guard let store else { return }
        try Invariants.check(store: store, acknowledged: acknowledged, config: scenario.config())
    }
}

func trace(_ text: String) {
    if getenv("SIM_TRACE") != nil { print(text) }
}
