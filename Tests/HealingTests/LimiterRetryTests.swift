import EventStore
import Healing
import Testing

@Suite("Rate limiter and retries")
struct LimiterRetryTests {
    func scale(_ n: Int) -> Action { .scale(service: "s\(n)", from: 1, to: 2) }

    @Test("the 10th action in 60 s passes, the 11th is rejected and recorded; the window slides")
    func slidingWindow() async throws {
        let rig = try await Rig(actuator: DryRunActuator())
        for n in 1...10 {
            #expect(try await rig.engine.run(scale(n), reason: "t").succeeded, "action \(n)")
            rig.advance(seconds: 1)
        }
        #expect(try await rig.engine.run(scale(11), reason: "t") == .rejected(reason: "rate_limited"))
        let throttled = try rig.events(HealingEvent.rateLimitThrottled)
        #expect(throttled.count == 1)
        #expect(throttled.first?.data["in_window"] == 10 && throttled.first?.data["limit"] == 10 && throttled.first?.data["window_s"] == 60)
        // Rejections do not count: the window is still the same 10 attempts.
        #expect(await rig.engine.limiters["scale"]?.inWindow(now: rig.clock.now()) == 10)
        // 50 s after the first attempt it slides out (10 s elapsed + 50 s = 60 s).
        rig.advance(seconds: 50)
        #expect(try await rig.engine.run(scale(12), reason: "t").succeeded)
        #expect(try await rig.engine.run(scale(13), reason: "t") == .rejected(reason: "rate_limited"))
        // Other kinds have their own key.
        #expect(try await rig.engine.run(.release(node: "x"), reason: "t").succeeded)
    }

    @Test("a wall clock that jumps forward and back again never lets more than the quota through in any window")
    func clockJumps() async throws {
        let rig = try await Rig(actuator: DryRunActuator())
        for n in 1...10 {
            #expect(try await rig.engine.run(scale(n), reason: "t").succeeded)
            rig.advance(seconds: 1)
        }
        rig.advance(seconds: 100)
        _ = try await rig.engine.run(scale(11), reason: "after the jump forward")
        rig.advance(seconds: -80)
        for n in 12...25 { _ = try await rig.engine.run(scale(n), reason: "after the jump back") }
        // The jump forward must not make the limiter forget the attempts the jump back brings
        // into the window again: no 60 s of the events' times holds more than 10.
        let times = try rig.events(HealingEvent.actionStarted).map { $0.time.nanoseconds }
        for time in times {
            let inWindow = times.filter { $0 > time - 60_000_000_000 && $0 <= time }.count
            #expect(inWindow <= 10, "\(inWindow) attempts in the 60 s of wall time before one")
        }
    }

    @Test("every attempt that reaches the actuator counts, retries included; limits are per kind")
    func retriesCount() async throws {
        var config = HealingConfig(seed: 3)
        config.limits.byKind["scale"] = RateLimit(limit: 4, windowSeconds: 60)
        let rig = try await Rig(actuator: ScriptedActuator([flaky, flaky]), config: config)
        #expect(try await rig.engine.run(scale(1), reason: "t") == .succeeded(effect: scale(1), attempts: 3))
        #expect(await rig.engine.limiters["scale"]?.attempts.count == 3)
        #expect(try await rig.engine.run(scale(2), reason: "t").succeeded)
        #expect(try await rig.engine.run(scale(3), reason: "t") == .rejected(reason: "rate_limited"))
    }

    @Test("each jitter variant stays within its bounds and is the same for the same seed, action and attempt",
          arguments: RetryPolicy.Jitter.allCases)
    func jitterBounds(jitter: RetryPolicy.Jitter) {
        let policy = RetryPolicy(maxAttempts: 10, baseMilliseconds: 100, capMilliseconds: 5_000, jitter: jitter)
        var previous = 100
        for seed: UInt64 in 0..<50 {
            for attempt in 1...8 {
                let delay = policy.delay(afterAttempt: attempt, previous: previous, seed: seed, actionID: "act-\(seed)")
                let ceiling = policy.ceiling(afterAttempt: attempt)
                switch jitter {
                case .none: #expect(delay == ceiling)
                case .full: #expect((0...ceiling).contains(delay))
                case .equal: #expect((ceiling / 2...ceiling).contains(delay))
                case .decorrelated: #expect((100...min(5_000, max(100, previous * 3))).contains(delay))
                }
                #expect(delay == policy.delay(afterAttempt: attempt, previous: previous, seed: seed, actionID: "act-\(seed)"))
                previous = delay
            }
        }
        #expect(policy.ceiling(afterAttempt: 1) == 100 && policy.ceiling(afterAttempt: 3) == 400 && policy.ceiling(afterAttempt: 20) == 5_000)
    }

    @Test("retries stop at the attempt limit, at the elapsed-time limit, and on a non-retryable error")
    func stopConditions() async throws {
        var config = HealingConfig(seed: 9)
        config.retry = RetryPolicy(maxAttempts: 3, baseMilliseconds: 1_000, capMilliseconds: 60_000, jitter: .none, maxElapsedMilliseconds: 600_000)
        let always = ScriptedActuator(Array(repeating: flaky, count: 20))
        var rig = try await Rig(actuator: always, config: config)
        #expect(try await rig.engine.run(scale(1), reason: "t") == .failed(error: "timeout", attempts: 3))
        let failures = try rig.events(HealingEvent.actionFailed)
        #expect(failures.map { $0.data["retry_in_ms"] } == [1_000, 2_000, nil])

        config.retry.maxElapsedMilliseconds = 2_500  // 1 s + 2 s of waiting would pass it
        rig = try await Rig(actuator: ScriptedActuator(Array(repeating: flaky, count: 20)), config: config)
        #expect(try await rig.engine.run(scale(1), reason: "t") == .failed(error: "timeout", attempts: 2))

        rig = try await Rig(actuator: ScriptedActuator([flaky, fails]), config: config)
        #expect(try await rig.engine.run(scale(1), reason: "t") == .failed(error: "boom", attempts: 2))
        // Backoff waited on the injected clock: 1 s between the attempts.
        let starts = try rig.events(HealingEvent.actionStarted).map(\.time.nanoseconds)
        #expect(starts.count == 2 && starts[1] - starts[0] == 1_000_000_000)
    }
}
