import EventStore
import Projections

/// The K of MAPE-K: every healing projection's current state, kept by applying each event the
/// engine appends (and, on open, every event in the log). Decisions read only this, so a
/// restarted engine decides exactly as an uninterrupted one.
struct Knowledge {
    let breakersProjection: BreakersProjection
    let limitersProjection = LimitersProjection()
    let topologyProjection = TopologyProjection()
    let actionsProjection = ActionsProjection()
    let mapekProjection = MapekProjection()
    let runbooksProjection = RunbooksProjection()

    var breakerStates = Tolerant<[String: BreakerState]>([:])
    var limiterWindows = Tolerant<[String: LimiterWindow]>([:])
    var topologyState = Tolerant(Topology())
    var actionRecords = Tolerant<[String: ActionRecord]>([:])
    var memory = Tolerant(MapekProjection.Memory())
    var runbookState = Tolerant(RunbooksProjection.Runbooks())
    var position: UInt64 = 0
    var topologyDeclared = false

    init(breaker: BreakerConfig) { breakersProjection = BreakersProjection(config: breaker) }

    mutating func apply(_ event: Event) {
        guard event.seq > position else { return }
        breakersProjection.apply(event, to: &breakerStates)
        limitersProjection.apply(event, to: &limiterWindows)
        topologyProjection.apply(event, to: &topologyState)
        actionsProjection.apply(event, to: &actionRecords)
        mapekProjection.apply(event, to: &memory)
        runbooksProjection.apply(event, to: &runbookState)
        if event.type == HealingEvent.topologyDeclared { topologyDeclared = true }
        position = event.seq
    }

    /// The knowledge at `seq` from the projections' snapshots: for a store whose events up to
    /// `seq` were archived, where a replay from the first event is no longer possible.
    static func restored(at seq: UInt64, from store: EventStore, breaker: BreakerConfig) throws(ProjectionError) -> Knowledge {
        var k = Knowledge(breaker: breaker)
        k.breakerStates = try Replay(store: store, projection: k.breakersProjection).state(at: seq)
        k.limiterWindows = try Replay(store: store, projection: k.limitersProjection).state(at: seq)
        k.topologyState = try Replay(store: store, projection: k.topologyProjection).state(at: seq)
        k.actionRecords = try Replay(store: store, projection: k.actionsProjection).state(at: seq)
        k.memory = try Replay(store: store, projection: k.mapekProjection).state(at: seq)
        k.runbookState = try Replay(store: store, projection: k.runbooksProjection).state(at: seq)
        k.position = seq
        k.topologyDeclared = k.topologyState.value != Topology()
        return k
    }

    var breakers: [String: BreakerState] { breakerStates.value }
    var limiters: [String: LimiterWindow] { limiterWindows.value }
    var topology: Topology { topologyState.value }
    var actions: [String: ActionRecord] { actionRecords.value }
    var mapek: MapekProjection.Memory { memory.value }
    var runbooks: RunbooksProjection.Runbooks { runbookState.value }

    /// Malformed events skipped, by projection name (those that skipped any).
    var malformed: [String: MalformedEvents] {
        [breakersProjection.name: breakerStates.malformed, limitersProjection.name: limiterWindows.malformed,
         topologyProjection.name: topologyState.malformed, actionsProjection.name: actionRecords.malformed,
         mapekProjection.name: memory.malformed, runbooksProjection.name: runbookState.malformed].filter { $0.value.count > 0 }
    }
}
