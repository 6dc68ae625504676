import EventStore
import Projections

/// `breakers`: state, counts and since-when of every circuit breaker.
public struct BreakersProjection: Projection {
    public let breaker: CircuitBreaker
    public init(config: BreakerConfig = BreakerConfig()) { breaker = CircuitBreaker(config: config) }
    public var name: String { "breakers" }
    public var version: UInt32 { 1 }
    public var initialState: [String: BreakerState] { [:] }
    public var fields: EventFields { .payload }

    public func apply(_ event: Event, to state: inout [String: BreakerState]) {
        let data = event.data
        let name = data.string("breaker")
        guard !name.isEmpty else { return }
        switch event.type {
        case HealingEvent.actionStarted:
            state[name, default: BreakerState()].inFlight += 1
        case HealingEvent.actionSucceeded:
            let failed = breaker.isFailure(succeeded: true, durationMilliseconds: data.int("duration_ms"))
            breaker.record(failed: failed, at: event.time.nanoseconds, in: &state[name, default: BreakerState()])
        case HealingEvent.actionFailed:
            breaker.record(failed: true, at: event.time.nanoseconds, in: &state[name, default: BreakerState()])
        case HealingEvent.breakerTransitioned:
            guard let to = BreakerPhase(rawValue: data.string("to")) else { return }
            breaker.enter(to, at: event.time.nanoseconds, in: &state[name, default: BreakerState()])
        default: return
        }
    }
}

/// `limiters`: the attempts inside the window, per limiter key.
public struct LimitersProjection: Projection {
    public init() {}
    public var name: String { "limiters" }
    public var version: UInt32 { 1 }
    public var initialState: [String: LimiterWindow] { [:] }
    public var fields: EventFields { .payload }

    public func apply(_ event: Event, to state: inout [String: LimiterWindow]) {
        guard event.type == HealingEvent.actionStarted else { return }
        let key = event.data.string("limiter")
        let window = event.data.int("window_s")
        guard !key.isEmpty, window > 0 else { return }
        state[key, default: LimiterWindow()].record(at: event.time.nanoseconds, windowSeconds: window)
    }
}

/// `topology`: routes, replicas, regions and quarantined nodes, from `topology.declared` and
/// the effects of succeeded actions.
public struct TopologyProjection: Projection {
    public init() {}
    public var name: String { "topology" }
    public var version: UInt32 { 1 }
    public var initialState: Topology { Topology() }
    public var fields: EventFields { .payload }

    public func apply(_ event: Event, to state: inout Topology) {
        switch event.type {
        case HealingEvent.topologyDeclared:
            state = Topology(document: event.data)
        case HealingEvent.actionSucceeded:
            guard let effect = event.data["effect"], let action = try? Action(document: effect) else { return }
            state.apply(action)
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
    public var version: UInt32 { 1 }
    public var initialState: [String: ActionRecord] { [:] }
    public var fields: EventFields { .all }

    public func apply(_ event: Event, to state: inout [String: ActionRecord]) {
        let data = event.data
        let id = data.string("action")
        guard !id.isEmpty else { return }
        switch event.type {
        case HealingEvent.actionPlanned:
            state[id] = ActionRecord(kind: data.string("kind"), target: data.string("target"), params: data["params"] ?? .map([:]),
                                     reason: data.string("reason"), cause: event.causation, correlation: event.correlation,
                                     compensates: data["compensates"]?.stringValue, plannedSeq: event.seq,
                                     symptomKey: data["symptom_key"]?.stringValue, inverse: data["inverse"])
        case HealingEvent.actionStarted:
            let attempts = max(state[id]?.attempts ?? 0, data.int("attempt"))
            state[id]?.attempts = attempts
            state[id]?.outcome = "running"
        case HealingEvent.actionSucceeded:
            state[id]?.outcome = "succeeded"
            state[id]?.durationMilliseconds += data.int("duration_ms")
            state[id]?.effect = data["effect"]
        case HealingEvent.actionFailed:
            state[id]?.durationMilliseconds += data.int("duration_ms")
            state[id]?.lastError = data.string("error")
            if data["retry_in_ms"] == nil { state[id]?.outcome = "failed" }
        case HealingEvent.actionRejected:
            state[id]?.outcome = "rejected"
            state[id]?.lastError = data.string("reason")
        default: return
        }
    }
}

/// The MAPE-K loop's own memory: active symptoms (hysteresis), the current incident, and the
/// counts that number cycles and rollbacks, so that a restarted engine neither fires a symptom
/// twice nor forgets one, and numbers what follows exactly as an uninterrupted one would.
public struct MapekProjection: Projection {
    public struct State: Sendable, Codable, Equatable {
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
    }

    public init() {}
    public var name: String { "mapek" }
    public var version: UInt32 { 1 }
    public var initialState: State { State() }
    public var fields: EventFields { [.payload, .links] }

    public func apply(_ event: Event, to state: inout State) {
        let data = event.data
        switch event.type {
        case HealingEvent.symptomDetected:
            let incident = event.correlation ?? data.string("incident")
            if state.currentIncident != incident {
                state.currentIncident = incident
                state.incidents += 1
            }
            state.active[data.string("key")] = ActiveSymptom(symptom: data.string("symptom"), node: data["node"]?.stringValue,
                                                              service: data["service"]?.stringValue, incident: incident,
                                                              eventID: event.id, seq: event.seq)
        case HealingEvent.symptomCleared:
            state.active[data.string("key")] = nil
            if state.active.isEmpty { state.currentIncident = nil }
        case HealingEvent.cycle:
            state.cycles = max(state.cycles, data.int("cycle"))
        case HealingEvent.rollbackStarted:
            state.rollbacks += 1
        default: return
        }
    }
}

extension ProjectionRegistry {
    /// The healing projections, for tools that list or replay them by name.
    public static func healing(breakerConfig: BreakerConfig = BreakerConfig()) -> [RegisteredProjection] {
        [RegisteredProjection(BreakersProjection(config: breakerConfig)), RegisteredProjection(LimitersProjection()),
         RegisteredProjection(TopologyProjection()), RegisteredProjection(ActionsProjection()),
         RegisteredProjection(MapekProjection())]
    }
}
