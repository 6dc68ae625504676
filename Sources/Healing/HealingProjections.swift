import EventStore
import Projections

/// `breakers`: state, counts and since-when of every circuit breaker.
public struct BreakersProjection: Projection {
    public let breaker: CircuitBreaker
    public init(config: BreakerConfig = BreakerConfig()) { breaker = CircuitBreaker(config: config) }
    public var name: String { "breakers" }
    /// 2: typed payloads, malformed events counted.
    public var version: UInt32 { 2 }
    public var initialState: Tolerant<[String: BreakerState]> { Tolerant([:]) }
    public var fields: EventFields { .payload }

    public func apply(_ event: Event, to state: inout Tolerant<[String: BreakerState]>) {
        let time = event.time.nanoseconds
        switch event.type {
        case HealingEvent.actionStarted:
            state.applying(event) { breakers throws(PayloadError) in
                guard let name = try HealingPayload.Started(event.data).guards.breaker else { return }
                breakers[name, default: BreakerState()].inFlight.addSaturated(1)
            }
        case HealingEvent.actionSucceeded:
            state.applying(event) { breakers throws(PayloadError) in
                let payload = try HealingPayload.Succeeded(event.data)
                guard let name = payload.guards.breaker else { return }
                let failed = breaker.isFailure(succeeded: true, durationMilliseconds: payload.durationMilliseconds)
                breaker.record(failed: failed, at: time, in: &breakers[name, default: BreakerState()])
            }
        case HealingEvent.actionFailed:
            state.applying(event) { breakers throws(PayloadError) in
                guard let name = try HealingPayload.Failed(event.data).guards.breaker else { return }
                breaker.record(failed: true, at: time, in: &breakers[name, default: BreakerState()])
            }
        case HealingEvent.breakerTransitioned:
            state.applying(event) { breakers throws(PayloadError) in
                let payload = try HealingPayload.Transitioned(event.data)
                breaker.enter(payload.to, at: time, in: &breakers[payload.breaker, default: BreakerState()])
            }
        default: return
        }
    }
}

/// `limiters`: the attempts inside the window, per limiter key.
public struct LimitersProjection: Projection {
    public init() {}
    public var name: String { "limiters" }
    /// 2: typed payloads, malformed events counted.
    public var version: UInt32 { 2 }
    public var initialState: Tolerant<[String: LimiterWindow]> { Tolerant([:]) }
    public var fields: EventFields { .payload }

    public func apply(_ event: Event, to state: inout Tolerant<[String: LimiterWindow]>) {
        guard event.type == HealingEvent.actionStarted else { return }
        state.applying(event) { limiters throws(PayloadError) in
            let guards = try HealingPayload.Started(event.data).guards
            guard let key = guards.limiter, let window = guards.windowSeconds else { return }
            limiters[key, default: LimiterWindow()].record(at: event.time.nanoseconds, windowSeconds: window, limit: guards.limit)
        }
    }
}

/// `topology`: routes, replicas, regions and quarantined nodes, from `topology.declared` and
/// the effects of succeeded actions.
public struct TopologyProjection: Projection {
    public init() {}
    public var name: String { "topology" }
    /// 2: typed payloads, malformed events counted.
    public var version: UInt32 { 2 }
    public var initialState: Tolerant<Topology> { Tolerant(Topology()) }
    public var fields: EventFields { .payload }

    public func apply(_ event: Event, to state: inout Tolerant<Topology>) {
        switch event.type {
        case HealingEvent.topologyDeclared:
            state.applying(event) { topology throws(PayloadError) in topology = try Topology(payload: event.data) }
        case HealingEvent.actionSucceeded:
            state.applying(event) { topology throws(PayloadError) in topology.apply(try HealingPayload.Succeeded(event.data).effect) }
        default: return
        }
    }
}

/// One action as the `actions` projection holds it.
public struct ActionRecord: Sendable, Codable, Equatable {
    public var kind: String
    public var target: String
    public var params: EventValue
    public var reason: String
    /// The id of the event that caused it (a symptom, or the rollback).
    public var cause: String?
    public var correlation: String?
    public var compensates: String?
    public var plannedSeq: UInt64
    public var attempts = 0
    /// planned, running, succeeded, failed or rejected.
    public var outcome = "planned"
    public var durationMilliseconds = 0
    public var lastError: String?
    public var effect: EventValue?
    /// The symptom (rule|node|service) it answers, when a symptom planned it.
    public var symptomKey: String?
    /// The action that would undo it, derived from the topology when it was planned.
    public var inverse: EventValue?

    /// A planned action, as its `action.planned` event records it.
    public init(kind: String, target: String, params: EventValue, reason: String, cause: String? = nil, correlation: String? = nil,
                compensates: String? = nil, plannedSeq: UInt64, symptomKey: String? = nil, inverse: EventValue? = nil) {
        self.kind = kind
        self.target = target
        self.params = params
        self.reason = reason
        self.cause = cause
        self.correlation = correlation
        self.compensates = compensates
        self.plannedSeq = plannedSeq
        self.symptomKey = symptomKey
        self.inverse = inverse
    }

    enum CodingKeys: String, CodingKey {
        case kind, target, params, reason, cause, correlation, compensates, attempts, outcome, effect
        case symptomKey = "symptom_key", inverse
        case plannedSeq = "planned_seq", durationMilliseconds = "duration_ms", lastError = "last_error"
    }
}

/// `actions`: every action with its attempts, outcome, duration, cause and compensation.
public struct ActionsProjection: Projection {
    public init() {}
    public var name: String { "actions" }
    /// 2: typed payloads, malformed events counted.
    public var version: UInt32 { 2 }
    public var initialState: Tolerant<[String: ActionRecord]> { Tolerant([:]) }
    public var fields: EventFields { .all }

    public func apply(_ event: Event, to state: inout Tolerant<[String: ActionRecord]>) {
        switch event.type {
        case HealingEvent.actionPlanned:
            state.applying(event) { actions throws(PayloadError) in
                let p = try HealingPayload.Planned(event.data)
                actions[p.action] = ActionRecord(kind: p.kind, target: p.target, params: p.params, reason: p.reason, cause: event.causation,
                                                 correlation: event.correlation, compensates: p.compensates, plannedSeq: event.seq,
                                                 symptomKey: p.symptomKey, inverse: p.inverse)
            }
        case HealingEvent.actionStarted:
            state.applying(event) { actions throws(PayloadError) in
                let p = try HealingPayload.Started(event.data)
                guard var record = actions[p.action] else { return }
                record.attempts = max(record.attempts, p.attempt)
                record.outcome = "running"
                actions[p.action] = record
            }
        case HealingEvent.actionSucceeded:
            state.applying(event) { actions throws(PayloadError) in
                let p = try HealingPayload.Succeeded(event.data)
                actions[p.action]?.outcome = "succeeded"
                actions[p.action]?.addDuration(p.durationMilliseconds)
                actions[p.action]?.effect = p.effect.document
            }
        case HealingEvent.actionFailed:
            state.applying(event) { actions throws(PayloadError) in
                let p = try HealingPayload.Failed(event.data)
                actions[p.action]?.addDuration(p.durationMilliseconds)
                actions[p.action]?.lastError = p.error
                if p.retryInMilliseconds == nil { actions[p.action]?.outcome = "failed" }
            }
        case HealingEvent.actionRejected:
            state.applying(event) { actions throws(PayloadError) in
                let p = try HealingPayload.Rejected(event.data)
                actions[p.action]?.outcome = "rejected"
                actions[p.action]?.lastError = p.reason
            }
        default: return
        }
    }
}

extension ActionRecord {
    /// Durations add up over attempts; each is bounded, but a log may repeat one without end.
    mutating func addDuration(_ milliseconds: Int) {
        durationMilliseconds.addSaturated(milliseconds)
    }
}

/// The MAPE-K loop's own memory: active symptoms (hysteresis), the current incident, and the
/// counts that number cycles and rollbacks, so that a restarted engine neither fires a symptom
/// twice nor forgets one, and numbers what follows exactly as an uninterrupted one would.
public struct MapekProjection: Projection {
    public struct Memory: Sendable, Codable, Equatable {
        public var active: [String: ActiveSymptom] = [:]
        public var incidents = 0
        public var currentIncident: String?
        public var cycles = 0
        public var rollbacks = 0
        public init() {}
    }

    public struct ActiveSymptom: Sendable, Codable, Equatable {
        public var symptom: String
        public var node: String?
        public var service: String?
        public var incident: String
        public var eventID: String
        public var seq: UInt64
        /// The value that crossed the threshold (runbooks may match on it).
        public var value: Double?
    }

    public init() {}
    public var name: String { "mapek" }
    /// 2: typed payloads, malformed events counted. 3: an active symptom keeps its value.
    public var version: UInt32 { 3 }
    public var initialState: Tolerant<Memory> { Tolerant(Memory()) }
    public var fields: EventFields { [.payload, .links] }

    public func apply(_ event: Event, to state: inout Tolerant<Memory>) {
        switch event.type {
        case HealingEvent.symptomDetected:
            state.applying(event) { memory throws(PayloadError) in
                let p = try HealingPayload.Symptom(event.data, detected: true)
                let incident = event.correlation ?? p.incident ?? ""
                if memory.currentIncident != incident {
                    memory.currentIncident = incident
                    memory.incidents.addSaturated(1)
                }
                memory.active[p.trackingKey] = ActiveSymptom(symptom: p.symptom, node: p.node, service: p.service, incident: incident,
                                                             eventID: event.id, seq: event.seq, value: p.value)
            }
        case HealingEvent.symptomCleared:
            state.applying(event) { memory throws(PayloadError) in
                memory.active[try HealingPayload.Symptom(event.data, detected: false).trackingKey] = nil
                if memory.active.isEmpty { memory.currentIncident = nil }
            }
        case HealingEvent.cycle:
            state.applying(event) { memory throws(PayloadError) in
                memory.cycles = max(memory.cycles, try HealingPayload.Cycle(event.data).cycle)
            }
        case HealingEvent.rollbackStarted:
            state.applying(event) { memory throws(PayloadError) in
                _ = try HealingPayload.RollbackStarted(event.data)
                memory.rollbacks.addSaturated(1)
            }
        default: return
        }
    }
}

extension ProjectionRegistry {
    /// The healing projections, for tools that list or replay them by name.
    public static func healing(breakerConfig: BreakerConfig = BreakerConfig()) -> [RegisteredProjection] {
        [RegisteredProjection(BreakersProjection(config: breakerConfig)), RegisteredProjection(LimitersProjection()),
         RegisteredProjection(TopologyProjection()), RegisteredProjection(ActionsProjection()),
         RegisteredProjection(MapekProjection()), RegisteredProjection(RunbooksProjection())]
    }
}
