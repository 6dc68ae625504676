import EventStore
import Healing
import Testing

@Suite("Circuit breakers")
struct BreakerTests {
    let act = Action.quarantine(node: "n1", reason: "test")

    @Test("closed opens after 5 consecutive failures, not 4; an open breaker rejects without calling the actuator")
    func opensAfterFive() async throws {
        let actuator = ScriptedActuator(Array(repeating: fails, count: 10))
        let rig = try await Rig(actuator: actuator)
        for _ in 0..<4 { _ = try await rig.engine.run(act, reason: "t") }
        #expect(await rig.engine.breakers["node/n1"]?.phase == .closed)
        _ = try await rig.engine.run(act, reason: "t")
        #expect(await rig.engine.breakers["node/n1"]?.phase == .open)
        let transition = try rig.events(HealingEvent.breakerTransitioned).last
        #expect(transition?.data["from"] == "closed" && transition?.data["to"] == "open" && transition?.data["failures"] == 5)
        #expect(try await rig.engine.run(act, reason: "t") == .rejected(reason: "breaker_open"))
        #expect(actuator.calls.count == 5)
    }

    @Test("after 60 s open the breaker is eligible; the next attempt half-opens it; 2 successes close it")
    func halfOpenThenClose() async throws {
        let actuator = ScriptedActuator(Array(repeating: fails, count: 5))
        let rig = try await Rig(actuator: actuator)
        for _ in 0..<5 { _ = try await rig.engine.run(act, reason: "t") }
        rig.advance(seconds: 59)
        #expect(await rig.engine.eligibleForTrial().isEmpty)
        #expect(try await rig.engine.run(act, reason: "t") == .rejected(reason: "breaker_open"))
        rig.advance(seconds: 1)
        #expect(await rig.engine.eligibleForTrial() == ["node/n1"])
        #expect(try await rig.engine.run(act, reason: "t").succeeded)
        #expect(await rig.engine.breakers["node/n1"]?.phase == .halfOpen)
        #expect(try await rig.engine.run(.release(node: "n1"), reason: "t").succeeded)
        #expect(await rig.engine.breakers["node/n1"]?.phase == .closed)
        let path = try rig.events(HealingEvent.breakerTransitioned).map { "\($0.data["from"]?.stringValue ?? "")>\($0.data["to"]?.stringValue ?? "")" }
        #expect(path == ["closed>open", "open>half_open", "half_open>closed"])
    }

    @Test("a failure in half_open reopens the breaker and restarts the wait")
    func halfOpenFailureReopens() async throws {
        let actuator = ScriptedActuator(Array(repeating: fails, count: 6))
        let rig = try await Rig(actuator: actuator)
        for _ in 0..<5 { _ = try await rig.engine.run(act, reason: "t") }
        rig.advance(seconds: 60)
        _ = try await rig.engine.run(act, reason: "t")
        #expect(await rig.engine.breakers["node/n1"]?.phase == .open)
        #expect(try rig.events(HealingEvent.breakerTransitioned).last?.data["reason"] == "trial_failed")
        #expect(await rig.engine.eligibleForTrial().isEmpty)
    }

    @Test("half_open admits at most N trial calls in flight")
    func trialLimit() {
        let breaker = CircuitBreaker()
        var state = BreakerState()
        breaker.enter(.halfOpen, at: 0, in: &state)
        #expect(breaker.admission(state, now: Timestamp(nanoseconds: 1)) == .allow)
        state.inFlight = 1
        #expect(breaker.admission(state, now: Timestamp(nanoseconds: 1)) == .reject)
        var config = BreakerConfig()
        config.halfOpenMaxCalls = 2
        #expect(CircuitBreaker(config: config).admission(state, now: Timestamp(nanoseconds: 1)) == .allow)
    }

    @Test("failure-rate mode trips at 50% over the window once 10 calls are in, with no 5 in a row")
    func failureRate() {
        var config = BreakerConfig()
        config.failureRate = .init()
        let breaker = CircuitBreaker(config: config)
        var state = BreakerState()
        for n in 0..<9 {
            breaker.record(failed: n % 2 == 0, at: Int64(n), in: &state)
            #expect(breaker.transition(after: state, now: Timestamp(nanoseconds: Int64(n))) == nil, "call \(n + 1)")
        }
        breaker.record(failed: false, at: 9, in: &state)  // 10 calls, 5 failed
        #expect(breaker.transition(after: state, now: Timestamp(nanoseconds: 9))?.1 == "failure_rate")
        #expect(CircuitBreaker().transition(after: state, now: Timestamp(nanoseconds: 9)) == nil, "off by default")
        // Time-based window: calls older than the window no longer count.
        config.failureRate = .init(window: .seconds(10), minimumCalls: 4, threshold: 0.5)
        let timed = CircuitBreaker(config: config)
        var t = BreakerState()
        for n in 0..<3 { timed.record(failed: true, at: Int64(n) * 1_000_000_000, in: &t) }
        for n in 0..<3 { timed.record(failed: false, at: 20_000_000_000 + Int64(n), in: &t) }
        #expect(timed.transition(after: t, now: Timestamp(nanoseconds: 20_000_000_003)) == nil)
    }

    @Test("a success slower than the slow-call threshold counts as a failure")
    func slowCalls() async throws {
        var config = HealingConfig(seed: 1)
        config.breaker.slowCallMilliseconds = 500
        let rig = try await Rig(actuator: DryRunActuator(), config: config)
        // A scripted actuator on the rig's own clock: every call takes 800 ms.
        let slow = ScriptedActuator([], clock: rig.clock, latencyMilliseconds: 800)
        let engine = try await HealingEngine.open(store: rig.store, config: config, actuator: slow, sleeper: ManualSleeper(clock: rig.clock))
        for _ in 0..<5 { #expect(try await engine.run(act, reason: "t").succeeded) }
        #expect(await engine.breakers["node/n1"]?.phase == .open)
        #expect(CircuitBreaker(config: config.breaker).isFailure(succeeded: true, durationMilliseconds: 400) == false)
    }

    @Test("operators force a breaker open or closed and reset it, each recorded with their reason")
    func overrides() async throws {
        let actuator = ScriptedActuator(Array(repeating: fails, count: 10))
        let rig = try await Rig(actuator: actuator)
        try await rig.engine.forceBreaker("node/n1", open: true, reason: "maintenance window", by: "alice")
        #expect(try await rig.engine.run(act, reason: "t") == .rejected(reason: "breaker_open"))
        try await rig.engine.forceBreaker("node/n1", open: false, reason: "known flaky, keep trying", by: "bob")
        for _ in 0..<7 { _ = try await rig.engine.run(act, reason: "t") }
        #expect(await rig.engine.breakers["node/n1"]?.phase == .forcedClosed, "forced_closed never trips")
        try await rig.engine.resetBreaker("node/n1", reason: "done", by: "alice")
        #expect(await rig.engine.breakers["node/n1"]?.phase == .closed)
        let records = try rig.events(HealingEvent.breakerTransitioned).map { ($0.data["to"]?.stringValue, $0.data["operator"]?.stringValue, $0.data["reason"]?.stringValue) }
        #expect(records.map(\.0) == ["forced_open", "forced_closed", "closed"])
        #expect(records.map(\.1) == ["alice", "bob", "alice"])
        #expect(records.map(\.2) == ["maintenance window", "known flaky, keep trying", "done"])
    }
}
