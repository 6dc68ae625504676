import EventStore

/// How one action ended.
public enum ActionOutcome: Sendable, Equatable {
    case succeeded(effect: Action, attempts: Int)
    case failed(error: String, attempts: Int)
    case rejected(reason: String)

    public var succeeded: Bool { if case .succeeded = self { return true } else { return false } }

    /// A short reason for reports (`not_restored`).
    public var summary: String {
        switch self {
        case .succeeded: return "succeeded"
        case .failed(let error, let attempts): return "failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(error)"
        case .rejected(let reason): return "rejected: \(reason)"
        }
    }
}

/// Why an action was planned, for its `action.planned` event.
struct PlanContext: Sendable {
    var reason: String
    var causation: String?
    /// The seq of the causing event (recorded as `cause_seq`, beside the envelope's causation id).
    var causeSeq: UInt64?
    var correlation: String?
    var symptomKey: String?
    var compensates: String?
    /// The rate-limit key: the action kind, or `rollback` for compensations.
    var limiterKey: String
    /// The runbook run and step this action is, when a runbook planned it.
    var step: RunStep? = nil
}

extension HealingEngine {
    /// Plans `action` (an `action.planned` event) and executes it: rate limiter, circuit
    /// breaker, then the actuator with retries. Every step is an event.
    @discardableResult
    func planAndExecute(_ action: Action, context: PlanContext) async throws(HealingError) -> (id: String, outcome: ActionOutcome) {
        // The replica id makes the id unique across stores that share state.
        let id = "act-\(store.replicaID)-\(knowledge.actions.count + 1)"
        var data: [String: EventValue] = [
            "action": .string(id), "kind": .string(action.kind.rawValue), "target": .string(action.target),
            "params": action.params, "reason": .string(context.reason), "breaker": .string(action.target),
            "limiter": .string(context.limiterKey),
        ]
        if let key = context.symptomKey { data["symptom_key"] = .string(key) }
        if let seq = context.causeSeq { data["cause_seq"] = .int(Int64(seq)) }
        // The inverse as the topology stands now, before the action runs.
        if let inverse = knowledge.topology.inverse(of: action) { data["inverse"] = inverse.document }
        if let compensates = context.compensates { data["compensates"] = .string(compensates) }
        if let step = context.step {
            data["runbook"] = .string(step.runbook)
            data["run"] = .string(step.run)
            data["step"] = .int(Int64(step.step))
        }
        // The plan is committed together with the first decision about it (started or
        // rejected): one durable commit fewer per action, and nothing is acted on unrecorded.
        let planned = NewEvent(type: HealingEvent.actionPlanned, stream: "action/\(id)", data: .map(data),
                               causation: context.causation, correlation: context.correlation)
        let outcome = try await execute(action, id: id, limiterKey: context.limiterKey, correlation: context.correlation, planned: planned,
                                        budgetMilliseconds: context.step?.budgetMilliseconds)
        return (id, outcome)
    }

    func execute(_ action: Action, id: String, limiterKey: String, correlation: String?, planned: NewEvent,
                 budgetMilliseconds: Int? = nil) async throws(HealingError) -> ActionOutcome {
        // Knowledge must see the plan before the guards read it; it is appended with what follows.
        var pending: [NewEvent] = [planned]
        let breakerName = action.target
        let limit = config.limits.limit(for: limiterKey)
        let firstStart = now
        var previousDelay = config.retry.baseMilliseconds
        var attempt = 0
        func event(_ type: String, _ data: [String: EventValue], stream: String = "action/\(id)") -> NewEvent {
            NewEvent(type: type, stream: stream, data: .map(data), correlation: correlation)
        }
        if let policy = config.actionPolicy {
            let incident = correlation.map { c in knowledge.actions.values.filter { $0.correlation == c }.count } ?? 0
            let request = ActionRequest(actionID: id, kind: action.kind.rawValue, target: action.target, labels: action.policyLabels,
                                        correlation: correlation, incidentActions: max(0, incident), time: now,
                                        peer: action.admittedPeer, peerOperation: action.peerOperation)
            let verdict = await policy.decide(request)
            pending += verdict.records
            guard verdict.allowed else {
                try await record(after: &pending, [event(HealingEvent.actionRejected, [
                    "action": .string(id), "reason": "policy_denied", "policy": .string(verdict.policy),
                    "policy_version": .int(Int64(verdict.version)), "rule": .string(verdict.rule),
                ])])
                return .rejected(reason: "policy_denied")
            }
        }
        if let peer = action.admittedPeer, let trust = config.peerTrust {
            let standing = trust.standing(of: peer, at: now)
            if standing.verdict == .untrusted {
                try await record(after: &pending, [event(HealingEvent.actionRejected, [
                    "action": .string(id), "reason": "peer_untrusted", "peer": .string(peer),
                    "certificate_reasons": .array(standing.reasons.map { .string($0) }),
                ])])
                return .rejected(reason: "peer_untrusted")
            }
        }
        while true {
            attempt += 1
            // Rate limiter first: a rejected attempt does not count against the window.
            let inWindow = knowledge.limiters[limiterKey]?.inWindow(now: now) ?? 0
            if inWindow >= limit.limit {
                try await record(after: &pending, [
                    event(HealingEvent.actionRejected, ["action": .string(id), "reason": "rate_limited", "limiter": .string(limiterKey)]),
                    event(HealingEvent.rateLimitThrottled, ["limiter": .string(limiterKey), "limit": .int(Int64(limit.limit)),
                                                           "window_s": .int(Int64(limit.windowSeconds)), "in_window": .int(Int64(inWindow)),
                                                           "action": .string(id)], stream: "limiter/\(limiterKey)"),
                ])
                return .rejected(reason: "rate_limited")
            }
            let state = knowledge.breakers[breakerName] ?? BreakerState()
            switch breaker.admission(state, now: now) {
            case .reject:
                try await record(after: &pending, [event(HealingEvent.actionRejected, ["action": .string(id), "reason": "breaker_open", "breaker": .string(breakerName)])])
                return .rejected(reason: "breaker_open")
            case .allowAsTrial:
                try await record(after: &pending, [transitionEvent(breakerName, to: .halfOpen, reason: "open_wait_elapsed", correlation: correlation)])
            case .allow:
                break
            }
            try await record(after: &pending, [event(HealingEvent.actionStarted, ["action": .string(id), "attempt": .int(Int64(attempt)), "breaker": .string(breakerName),
                                                                "limiter": .string(limiterKey), "window_s": .int(Int64(limit.windowSeconds)),
                                                                "limit": .int(min(Int64(limit.limit), HealingPayload.Bounds.limit.upperBound))])])
            let started = now
            let result: Result<Action, ActuatorFailure>
            do { result = .success(try await actuator.perform(action, actionID: id, attempt: attempt)) } catch { result = .failure(error) }
            let duration = now.milliseconds(since: started)
            switch result {
            case .success(let effect):
                try await record(after: &pending, [event(HealingEvent.actionSucceeded, ["action": .string(id), "attempt": .int(Int64(attempt)),
                                                                      "duration_ms": .int(Int64(duration)), "effect": effect.document,
                                                                      "breaker": .string(breakerName)])])
                try await transitionIfDue(breakerName, correlation: correlation)
                await config.effectListener?.applied(effect, actionID: id)
                return .succeeded(effect: effect, attempts: attempt)
            case .failure(let failure):
                let delay = config.retry.delay(afterAttempt: attempt, previous: previousDelay, seed: config.seed, actionID: id)
                let elapsed = now.milliseconds(since: firstStart)
                // A runbook step's timeout bounds its retries too: none starts past it.
                let withinBudget = budgetMilliseconds.map { elapsed + delay <= $0 } ?? true
                let retrying = withinBudget && config.retry.allowsRetry(afterAttempt: attempt, retryable: failure.retryable, elapsedMilliseconds: elapsed, nextDelay: delay)
                var data: [String: EventValue] = ["action": .string(id), "attempt": .int(Int64(attempt)), "error": .string(failure.message),
                                                  "retryable": .bool(failure.retryable), "duration_ms": .int(Int64(duration)),
                                                  "breaker": .string(breakerName)]
                if retrying { data["retry_in_ms"] = .int(Int64(delay)) }
                try await record(after: &pending, [event(HealingEvent.actionFailed, data)])
                try await transitionIfDue(breakerName, correlation: correlation)
                guard retrying else { return .failed(error: failure.message, attempts: attempt) }
                previousDelay = delay
                await sleeper.sleep(nanoseconds: Int64(delay) * 1_000_000)
            }
        }
    }

    /// Records `pending` (events held back to share a commit) followed by `events`.
    func record(after pending: inout [NewEvent], _ events: [NewEvent]) async throws(HealingError) {
        let batch = pending + events
        pending = []
        try await record(batch)
    }

    /// Records the transition an outcome calls for (trip, reopen, close).
    func transitionIfDue(_ name: String, correlation: String?) async throws(HealingError) {
        guard let state = knowledge.breakers[name], let (to, reason) = breaker.transition(after: state, now: now) else { return }
        try await transition(name, to: to, reason: reason, correlation: correlation)
    }

    func transition(_ name: String, to phase: BreakerPhase, reason: String, correlation: String?, operatorName: String? = nil) async throws(HealingError) {
        try await record([transitionEvent(name, to: phase, reason: reason, correlation: correlation, operatorName: operatorName)])
    }

    func transitionEvent(_ name: String, to phase: BreakerPhase, reason: String, correlation: String?, operatorName: String? = nil) -> NewEvent {
        let state = knowledge.breakers[name] ?? BreakerState()
        var data: [String: EventValue] = ["breaker": .string(name), "from": .string(state.phase.rawValue), "to": .string(phase.rawValue),
                                          "failures": .int(Int64(state.consecutiveFailures)), "successes": .int(Int64(state.halfOpenSuccesses)),
                                          "reason": .string(reason)]
        if let operatorName { data["operator"] = .string(operatorName) }
        return NewEvent(type: HealingEvent.breakerTransitioned, stream: "breaker/\(name)", data: .map(data), correlation: correlation)
    }

    // MARK: Operator overrides

    /// Forces a breaker open or closed until `resetBreaker`; recorded with the operator's reason.
    public func forceBreaker(_ name: String, open: Bool, reason: String, by operatorName: String) async throws(HealingError) {
        try await transition(name, to: open ? .forcedOpen : .forcedClosed, reason: reason, correlation: nil, operatorName: operatorName)
    }

    /// Returns a breaker to closed with fresh counts; recorded with the operator's reason.
    public func resetBreaker(_ name: String, reason: String, by operatorName: String) async throws(HealingError) {
        try await transition(name, to: .closed, reason: reason, correlation: nil, operatorName: operatorName)
    }

    /// Runs one action outside the loop (an operator's request), through the same guards.
    public func run(_ action: Action, reason: String, correlation: String? = nil) async throws(HealingError) -> ActionOutcome {
        try await planAndExecute(action, context: PlanContext(reason: reason, correlation: correlation, limiterKey: action.kind.rawValue)).outcome
    }
}
