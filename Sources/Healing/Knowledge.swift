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

    var breakers: [String: BreakerState] = [:]
    var limiters: [String: LimiterWindow] = [:]
    var topology = Topology()
    var actions: [String: ActionRecord] = [:]
    var mapek = MapekProjection.State()
    var position: UInt64 = 0
    var topologyDeclared = false

    init(breaker: BreakerConfig) { breakersProjection = BreakersProjection(config: breaker) }

    mutating func apply(_ event: Event) {
        guard event.seq > position else { return }
        breakersProjection.apply(event, to: &breakers)
        limitersProjection.apply(event, to: &limiters)
        topologyProjection.apply(event, to: &topology)
        actionsProjection.apply(event, to: &actions)
        mapekProjection.apply(event, to: &mapek)
        if event.type == HealingEvent.topologyDeclared { topologyDeclared = true }
        position = event.seq
    }
}
