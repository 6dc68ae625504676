import EventStore

/// Circuit breaker settings; the defaults are those of the platform the engine serves.
public struct BreakerConfig: Sendable, Codable, Equatable {
    /// Consecutive failures that open a closed breaker.
    public var failureThreshold = 5
    /// How long an open breaker waits before the next attempt may move it to half_open.
    public var openNanoseconds: Int64 = 60_000_000_000
    /// Successes in half_open that close the breaker.
    public var halfOpenSuccesses = 2
    /// Trial calls allowed in flight at once in half_open.
    public var halfOpenMaxCalls = 1
    /// Off by default: trip on the failure rate over a sliding window.
    public var failureRate: FailureRate?
    /// Off by default: a success slower than this counts as a failure.
    public var slowCallMilliseconds: Int?

    public struct FailureRate: Sendable, Codable, Equatable {
        public enum Window: Sendable, Codable, Equatable {
            /// The last N calls.
            case count(Int)
            /// The calls of the last N seconds.
            case seconds(Int)
        }
        public var window: Window = .count(20)
        public var minimumCalls = 10
        /// A fraction: 0.5 trips at 50% failures.
        public var threshold = 0.5
        public init(window: Window = .count(20), minimumCalls: Int = 10, threshold: Double = 0.5) {
            self.window = window
            self.minimumCalls = minimumCalls
            self.threshold = threshold
        }
    }

    public init() {}
}

public enum BreakerPhase: String, Sendable, Codable, CaseIterable {
    case closed, open, halfOpen = "half_open", forcedOpen = "forced_open", forcedClosed = "forced_closed"
}

/// One breaker as the `breakers` projection holds it.
public struct BreakerState: Sendable, Codable, Equatable {
    public var phase: BreakerPhase = .closed
    /// Time of the last transition (ns since the epoch).
    public var since: Int64 = 0
    public var consecutiveFailures = 0
    public var halfOpenSuccesses = 0
    public var inFlight = 0
    public var totalSuccesses = 0
    public var totalFailures = 0
    /// Recent outcomes for the failure-rate mode: (time ns, failed).
    public var window: [Outcome] = []

    public struct Outcome: Sendable, Codable, Equatable {
        public var time: Int64
        public var failed: Bool
    }

    public init() {}
}

/// What a breaker says to an attempt.
public enum BreakerAdmission: Sendable, Equatable {
    case allow
    /// The open wait is over: the attempt may go ahead once the breaker moves to half_open.
    case allowAsTrial
    case reject
}

/// The breaker's rules: pure functions of its state, its config and a time.
public struct CircuitBreaker: Sendable {
    public let config: BreakerConfig
    public init(config: BreakerConfig = BreakerConfig()) { self.config = config }

    public func admission(_ state: BreakerState, now: Timestamp) -> BreakerAdmission {
        switch state.phase {
        case .closed, .forcedClosed: return .allow
        case .forcedOpen: return .reject
        case .open: return isEligibleForTrial(state, now: now) ? .allowAsTrial : .reject
        case .halfOpen: return state.inFlight < config.halfOpenMaxCalls ? .allow : .reject
        }
    }

    /// An open breaker whose wait is over.
    public func isEligibleForTrial(_ state: BreakerState, now: Timestamp) -> Bool {
        state.phase == .open && now.nanoseconds.saturatingMinus(state.since) >= config.openNanoseconds
    }

    /// Whether a success of this duration counts as a failure (slow-call counting).
    public func isFailure(succeeded: Bool, durationMilliseconds: Int) -> Bool {
        if !succeeded { return true }
        if let slow = config.slowCallMilliseconds, durationMilliseconds > slow { return true }
        return false
    }

    /// The transition an outcome just recorded calls for, if any: (to, reason).
    public func transition(after state: BreakerState, now: Timestamp) -> (BreakerPhase, String)? {
        switch state.phase {
        case .closed:
            if state.consecutiveFailures >= config.failureThreshold { return (.open, "consecutive_failures") }
            if let rate = config.failureRate {
                let calls = windowed(state.window, rate: rate, now: now)
                let failures = calls.filter(\.failed).count
                if calls.count >= rate.minimumCalls && Double(failures) >= rate.threshold * Double(calls.count) {
                    return (.open, "failure_rate")
                }
            }
            return nil
        case .halfOpen:
            if state.consecutiveFailures > 0 { return (.open, "trial_failed") }
            if state.halfOpenSuccesses >= config.halfOpenSuccesses { return (.closed, "trials_succeeded") }
            return nil
        case .open, .forcedOpen, .forcedClosed:
            return nil
        }
    }

    func windowed(_ outcomes: [BreakerState.Outcome], rate: BreakerConfig.FailureRate, now: Timestamp) -> [BreakerState.Outcome] {
        switch rate.window {
        case .count(let n): return Array(outcomes.suffix(n))
        case .seconds(let s): return outcomes.filter { now.nanoseconds.saturatingMinus($0.time) < s.secondsAsNanoseconds }
        }
    }

    /// Records an outcome (the reducer of `action.succeeded` / `action.failed`).
    public func record(failed: Bool, at time: Int64, in state: inout BreakerState) {
        state.inFlight = max(0, state.inFlight - 1)
        if failed {
            state.consecutiveFailures.addSaturated(1)
            state.totalFailures.addSaturated(1)
        } else {
            state.consecutiveFailures = 0
            state.totalSuccesses.addSaturated(1)
            if state.phase == .halfOpen { state.halfOpenSuccesses.addSaturated(1) }
        }
        if let rate = config.failureRate, state.phase == .closed {
            state.window.append(.init(time: time, failed: failed))
            state.window = windowed(state.window, rate: rate, now: Timestamp(nanoseconds: time))
        }
    }

    /// Applies a transition (the reducer of `breaker.transitioned`).
    public func enter(_ phase: BreakerPhase, at time: Int64, in state: inout BreakerState) {
        state.phase = phase
        state.since = time
        state.consecutiveFailures = 0
        state.halfOpenSuccesses = 0
        state.inFlight = 0
        state.window = []
    }
}
