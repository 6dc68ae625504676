import EventStore
import Foundation
import Healing
import MeshSimulation
import Projections
import TestKit
import Testing

/// The demo scenario as a whole: restart equivalence, determinism, and replay without effects.
@Suite("Mesh scenario: restart, determinism, replay")
struct ScenarioTests {
    /// Runs the demo scenario in a fresh store, optionally closing the engine (and the store)
    /// after `restartAfter` cycles and continuing with a new engine on a reopened store.
    func runDemo(seed: UInt64, restartAfter: Int? = nil) async throws -> (lines: [String], dir: TemporaryDirectory) {
        let dir = TemporaryDirectory()
        let scenario = DemoScenario(seed: seed)
        let clock = ManualClock(DemoScenario.start)
        let mesh = scenario.makeMesh(clock: clock)
        var store = try EventStore.open(at: dir.store(), options: scenario.storeOptions(clock: clock))
        if let stop = restartAfter {
            _ = try await scenario.run(store: store, clock: clock, mesh: mesh, stopAfterCycle: stop)
            store.close()
            store = try EventStore.open(at: dir.store(), options: scenario.storeOptions(clock: clock))
            _ = try await scenario.run(store: store, clock: clock, mesh: mesh, fromCycle: stop + 1)
        } else {
            _ = try await scenario.run(store: store, clock: clock, mesh: mesh)
        }
        defer { store.close() }
        let lines = try store.read().collect().map { Envelope.json($0) }
        return (lines, dir)
    }

    @Test("the same seed gives the same log, time, ids and hash chain included; another seed does not")
    func deterministic() async throws {
        let a = try await runDemo(seed: 7)
        let b = try await runDemo(seed: 7)
        #expect(a.lines.count > 150)
        #expect(a.lines == b.lines)
        let c = try await runDemo(seed: 8)
        #expect(c.lines != a.lines)
    }

    @Test("an engine closed and reopened halfway makes the same decisions as one run straight through", arguments: [12, 17, 24])
    func restartEquivalence(restartAfter: Int) async throws {
        let straight = try await runDemo(seed: 3)
        let restarted = try await runDemo(seed: 3, restartAfter: restartAfter)
        // (type, stream, data) of every event; the restart point lies inside an open breaker's
        // wait (17), the rate-limit window and the half-open phase (24).
        func decisions(_ lines: [String]) throws -> [String] {
            try lines.map { line in
                let value = try JSONParser.parse(line)
                return "\(value["type"]?.stringValue ?? "") \(value["stream"]?.stringValue ?? "") \(JSONWriter.encode(value["data"] ?? .null))"
            }
        }
        #expect(try decisions(restarted.lines) == decisions(straight.lines))
        #expect(restarted.lines == straight.lines, "even ids and hashes agree")
    }

    @Test("the demo heals, trips and closes a breaker, throttles the storm, and rolls back to before the incident")
    func demoStory() async throws {
        let dir = TemporaryDirectory()
        let scenario = DemoScenario(seed: 1)
        let clock = ManualClock(DemoScenario.start)
        let store = try EventStore.open(at: dir.store(), options: scenario.storeOptions(clock: clock))
        defer { store.close() }
        let result = try await scenario.run(store: store, clock: clock, mesh: scenario.makeMesh(clock: clock))
        let events = try store.read().collect()
        let transitions = events.filter { $0.type == HealingEvent.breakerTransitioned }.map { "\($0.data["from"]?.stringValue ?? "")>\($0.data["to"]?.stringValue ?? "")" }
        #expect(transitions == ["closed>open", "open>half_open", "half_open>closed"])
        #expect(events.contains { $0.type == HealingEvent.rateLimitThrottled })
        #expect(events.contains { $0.type == HealingEvent.actionFailed && $0.data["retry_in_ms"] != nil })
        #expect(events.filter { $0.type == HealingEvent.actionSucceeded && $0.data["effect"]?["kind"] == "failover" }.count >= 3)
        let before = try #require(result).beforeIncidentSeq
        #expect(result?.rollback.notRestored.isEmpty == true)
        let replay = Replay(store: store, projection: TopologyProjection())
        #expect(try replay.state(at: store.head().seq) == replay.state(at: before))
        // Every planned action names its cause and incident.
        for planned in events where planned.type == HealingEvent.actionPlanned && planned.data["compensates"] == nil {
            #expect(planned.correlation?.hasPrefix("incident-") == true && planned.causation != nil || planned.data["symptom_key"]?.stringValue?.hasSuffix("|cleared") == true)
        }
        #expect(try store.verify().ok)
    }

    @Test("opening an engine on an existing log replays it without calling the actuator")
    func replayHasNoEffects() async throws {
        let run = try await runDemo(seed: 2)
        let store = try EventStore.open(at: run.dir.store())
        defer { store.close() }
        let watcher = ScriptedActuator()
        let engine = try await HealingEngine.open(store: store, config: DemoScenario(seed: 2).config(), actuator: watcher, sleeper: ManualSleeper(clock: ManualClock(DemoScenario.start)))
        #expect(await !engine.breakers.isEmpty)
        for projection in ProjectionRegistry.healing() { _ = try projection.state(at: try store.head().seq, in: store) }
        #expect(watcher.calls.isEmpty)
    }
}

@Suite("Healing projections are deterministic")
struct HealingDeterminismTests {
    @Test("breakers, limiters, topology, actions and mapek agree incrementally, from snapshots and from scratch", arguments: [11, 12] as [UInt64])
    func all(seed: UInt64) throws {
        var config = BreakerConfig()
        config.failureRate = .init()
        let checks = [
            try DeterminismCheck.run(BreakersProjection(config: config), seed: seed, events: 800, generate: healingEvent),
            try DeterminismCheck.run(LimitersProjection(), seed: seed, events: 800, generate: healingEvent),
            try DeterminismCheck.run(TopologyProjection(), seed: seed, events: 800, generate: healingEvent),
            try DeterminismCheck.run(ActionsProjection(), seed: seed, events: 800, generate: healingEvent),
            try DeterminismCheck.run(MapekProjection(), seed: seed, events: 800, generate: healingEvent),
        ]
        for report in checks {
            #expect(report.disagreements.isEmpty, "\(report.projection): \(report.disagreements)")
            #expect(report.snapshotsWritten > 0)
        }
    }
}

@Suite("Mesh faults")
struct MeshFaultTests {
    @Test("a latency spike is healed by switching the route; a node that goes down is quarantined once reachable, then released")
    func latencyAndNodeDown() async throws {
        let scenario = DemoScenario(seed: 21)
        let clock = ManualClock(DemoScenario.start)
        let mesh = scenario.makeMesh(clock: clock)
        let dir = TemporaryDirectory()
        let store = try EventStore.open(at: dir.store(), options: scenario.storeOptions(clock: clock))
        defer { store.close() }
        let engine = try await HealingEngine.open(store: store, config: scenario.config(), actuator: mesh,
                                                  sleeper: ManualSleeper(clock: clock), declaring: mesh.currentTopology)
        let names = scenario.nodeNames
        func tick() async throws -> CycleReport {
            let report = try await engine.cycle(mesh.observations())
            clock.advance(nanoseconds: 5_000_000_000)
            return report
        }
        mesh.latencySpike(on: "api", milliseconds: 900)
        let spike = try await tick()
        #expect(spike.detected == ["high_latency|service|api"])
        #expect(spike.actions.map(\.action) == [.switchRoute(destination: "api", from: names[0], to: names[1])])
        #expect(try await tick().cleared == ["high_latency|service|api"])
        #expect(mesh.currentTopology.routes["api"] == names[1])

        mesh.nodeDown(names[3], down: true)
        let down = try await tick()
        #expect(down.actions.first?.outcome == .failed(error: "node \(names[3]) unreachable", attempts: 1))
        mesh.nodeDown(names[3], down: false)
        mesh.flap(names[3], flapping: true, unreachable: false)  // reachable again, still unhealthy
        #expect(try await tick().actions.first?.outcome.succeeded == true)
        #expect(mesh.currentTopology.quarantined == [names[3]])
        mesh.flap(names[3], flapping: false, unreachable: false)
        let back = try await tick()
        #expect(back.actions.map(\.action) == [.release(node: names[3])])
        #expect(mesh.currentTopology.quarantined.isEmpty)
        // Every planned action records the seq of the runbook run that planned it, and the run
        // the symptom that caused it.
        let planned = try store.query(EventQuery(type: HealingEvent.actionPlanned)).collect().filter { $0.data["symptom_key"]?.stringValue?.hasSuffix("|cleared") == false }
        for event in planned {
            let cause = try #require(event.data["cause_seq"]?.intValue)
            let run = try #require(try store.event(at: UInt64(cause)))
            #expect(run.type == RunbookEvent.started && run.id == event.causation && run.data["run"] == event.data["run"])
            #expect(try store.event(id: run.causation ?? "")?.type == HealingEvent.symptomDetected)
        }
    }
}
