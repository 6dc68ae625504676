import EventStore
import Healing
import Projections
import Testing

@Suite("Actions, inverses and rollback")
struct RollbackTests {
    @Test("each action's inverse comes from the topology at the moment it runs")
    func inverses() {
        let t = Topology(routes: ["api": "a"], replicas: ["api": 3], regions: ["api": "eu-west"], quarantined: ["q"])
        #expect(t.inverse(of: .switchRoute(destination: "api", from: "a", to: "b")) == .switchRoute(destination: "api", from: "b", to: "a"))
        #expect(t.inverse(of: .scale(service: "api", from: 3, to: 5)) == .scale(service: "api", from: 5, to: 3))
        #expect(t.inverse(of: .failover(service: "api", fromRegion: "eu-west", toRegion: "eu-central")) == .failover(service: "api", fromRegion: "eu-central", toRegion: "eu-west"))
        #expect(t.inverse(of: .quarantine(node: "n", reason: "x")) == .release(node: "n"))
        #expect(t.inverse(of: .release(node: "q"))?.kind == .quarantine)
    }

    @Test("the actions projection records each action's inverse as the topology stood when it was planned")
    func inverseRecorded() async throws {
        let rig = try await Rig(actuator: DryRunActuator())
        _ = try await rig.engine.run(.scale(service: "api", from: 3, to: 7), reason: "t")
        _ = try await rig.engine.run(.scale(service: "api", from: 7, to: 2), reason: "t")
        _ = try await rig.engine.run(.quarantine(node: "n9", reason: "x"), reason: "t")
        let actions = await rig.engine.actions
        #expect(try actions["act-r-t-1"]?.inverse.map { try Action(document: $0) } == .scale(service: "api", from: 7, to: 3))
        #expect(try actions["act-r-t-2"]?.inverse.map { try Action(document: $0) } == .scale(service: "api", from: 2, to: 7))
        #expect(try actions["act-r-t-3"]?.inverse.map { try Action(document: $0) } == .release(node: "n9"))
    }

    @Test("bad action requests are typed errors", arguments: [
        ("reboot", ["node": "n"], "unknown kind 'reboot'"),
        ("scale", ["service": "api", "from": 1, "to": -2], "between 0 and"),
        ("scale", ["service": "api", "from": 1], "param to"),
        ("failover", ["service": "api", "from_region": 5, "to_region": "x"], "param from_region"),
    ] as [(String, EventValue, String)])
    func badActions(kind: String, params: EventValue, message: String) {
        do {
            _ = try Action(kind: kind, params: params)
            Issue.record("accepted \(kind) \(params)")
        } catch {
            #expect(error.description.contains(message), "\(error)")
            #expect(error.isBadInput)
        }
    }

    func topologyNow(_ rig: Rig) async -> Topology { await rig.engine.topology }
    func topology(_ rig: Rig, at seq: UInt64) throws -> Topology { try Replay(store: rig.store, projection: TopologyProjection()).state(at: seq).value }

    @Test("rollback(to:) restores the topology at that seq, for every action kind and mixed sequences")
    func rollbackEquivalence() async throws {
        let rig = try await Rig(actuator: DryRunActuator())
        let before = try rig.store.head().seq
        let steps: [Action] = [
            .switchRoute(destination: "api", from: "a", to: "b"), .switchRoute(destination: "api", from: "b", to: "c"),
            .scale(service: "api", from: 3, to: 6), .failover(service: "db", fromRegion: "eu-west", toRegion: "eu-central"),
            .quarantine(node: "n1", reason: "x"), .quarantine(node: "n2", reason: "y"), .release(node: "n2"),
        ]
        for step in steps { #expect(try await rig.engine.run(step, reason: "t").succeeded) }
        let plan = try await rig.engine.planRollback(to: before)
        // A route switched a -> b -> c is one compensation, c -> a; failovers come first.
        // n2 was quarantined and released again: nothing to do for it.
        #expect(plan.actions == [.failover(service: "db", fromRegion: "eu-central", toRegion: "eu-west"), .release(node: "n1"),
                                 .scale(service: "api", from: 6, to: 3), .switchRoute(destination: "api", from: "c", to: "a")])
        let report = try await rig.engine.rollback(to: before)
        #expect(report.notRestored.isEmpty)
        #expect(report.restored.count == 4)
        #expect(await topologyNow(rig) == (try topology(rig, at: before)))
        let completed = try rig.events(HealingEvent.rollbackCompleted).last
        #expect(completed?.data["restored"].map { if case .array(let a) = $0 { return a.count } else { return -1 } } == 4)
    }

    @Test("rollback to the middle of a sequence restores that intermediate state")
    func rollbackToMiddle() async throws {
        let rig = try await Rig(actuator: DryRunActuator())
        _ = try await rig.engine.run(.scale(service: "api", from: 3, to: 4), reason: "t")
        let middle = try rig.store.head().seq
        _ = try await rig.engine.run(.scale(service: "api", from: 4, to: 9), reason: "t")
        _ = try await rig.engine.run(.quarantine(node: "n", reason: "x"), reason: "t")
        _ = try await rig.engine.rollback(to: middle)
        #expect(await rig.engine.topology == (try topology(rig, at: middle)))
        #expect(await rig.engine.topology.replicas["api"] == 4)
    }

    @Test("rolling back one incident restores only its keys; a key changed again later is reported, not touched")
    func rollbackIncident() async throws {
        var config = HealingConfig(seed: 1, regions: ["eu-west", "eu-central"])
        config.limits.fallback = RateLimit(limit: 100, windowSeconds: 60)
        let rig = try await Rig(actuator: DryRunActuator(), config: config)
        // incident-1 scales api and fails db over; incident-2 later scales api again.
        let engine = rig.engine
        _ = try await engine.cycle([Observation(service: "api", metric: "error_rate", value: 0.9), Observation(service: "db", metric: "availability", value: 0)])
        _ = try await engine.cycle([Observation(service: "api", metric: "error_rate", value: 0.01), Observation(service: "db", metric: "availability", value: 1)])
        _ = try await engine.cycle([Observation(service: "api", metric: "error_rate", value: 0.9)])
        let actions = await engine.actions
        #expect(Set(actions.values.compactMap(\.correlation)) == ["incident-r-t-1", "incident-r-t-2"])
        var topology = await engine.topology
        #expect(topology.replicas["api"] == 5 && topology.regions["db"] == "eu-central")
        let report = try await engine.rollback(correlation: "incident-r-t-1")
        #expect(report.restored == ["region/db"])
        #expect(report.notRestored.map(\.key) == ["replicas/api"])
        #expect(report.notRestored.first?.reason.contains("incident-r-t-2") == true)
        topology = await engine.topology
        #expect(topology.replicas["api"] == 5 && topology.regions["db"] == "eu-west")
        // Rolling back the last action restores just its key.
        let last = try await engine.rollbackLastAction()
        #expect(last.restored == ["replicas/api"])
        #expect(await engine.topology.replicas["api"] == 4)
    }

    @Test("compensations go through breakers: a rejected one is listed in not_restored")
    func compensationRejected() async throws {
        let rig = try await Rig(actuator: DryRunActuator())
        let before = try rig.store.head().seq
        _ = try await rig.engine.run(.scale(service: "api", from: 3, to: 4), reason: "t")
        try await rig.engine.forceBreaker("service/api", open: true, reason: "hands off", by: "ops")
        let report = try await rig.engine.rollback(to: before)
        #expect(report.restored.isEmpty)
        #expect(report.notRestored.map(\.key) == ["replicas/api"] && report.notRestored.first?.reason == "rejected: breaker_open")
    }

    @Test("a rollback target before the first event or beyond the head is a typed error")
    func badTargets() async throws {
        let rig = try await Rig(actuator: DryRunActuator())
        let head = try rig.store.head().seq
        for seq in [0, head + 1, 1_000_000] {
            await #expect(throws: HealingError.self) { try await rig.engine.rollback(to: seq) }
            do { _ = try await rig.engine.planRollback(to: seq) } catch { #expect(error.isBadInput && error.description.contains("seq \(seq)")) }
        }
    }
}
