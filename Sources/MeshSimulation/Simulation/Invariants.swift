import EventStore
import Healing
import Projections

/// What must hold after every simulated seed, checked against the store itself.
enum Invariants {
    static func check(store: EventStore, acknowledged: [(UInt64, Digest)], config: HealingConfig) throws {
        let report = try store.verify()
        try require(report.ok, "the store does not verify: \(report.problems.prefix(3))")
        let head = try store.head().seq
        var bySeq: [UInt64: Digest] = [:]
        let breakersProjection = BreakersProjection(config: config.breaker)
        var breakers = breakersProjection.initialState
        var attempts: [String: [Int64]] = [:]
        var windows: [String: Int] = [:]
        // The log is read once; every check below works on these events.
        var events: [Event] = []
        try store.scan(from: 1) { event in
            events.append(event)
            return true
        }
        let wanted = Set(acknowledged.map(\.0))
        for event in events {
            if wanted.contains(event.seq) { bySeq[event.seq] = event.hash }
            if event.type == HealingEvent.actionStarted, let started = try? HealingPayload.Started(event.data) {
                if let name = started.guards.breaker {
                    let state = breakers.value[name] ?? BreakerState()
                    let admitted = switch state.phase {
                    case .closed, .forcedClosed: true
                    case .halfOpen: state.inFlight < breakersProjection.breaker.config.halfOpenMaxCalls
                    case .open, .forcedOpen: false
                    }
                    try require(admitted, "seq \(event.seq): \(started.action) started through breaker \(name) in \(state.phase.rawValue) with \(state.inFlight) in flight")
                }
                if let key = started.guards.limiter, let window = started.guards.windowSeconds {
                    attempts[key, default: []].append(event.time.nanoseconds)
                    windows[key] = window
                }
            }
            breakersProjection.apply(event, to: &breakers)
        }
        for (seq, hash) in acknowledged {
            try require(bySeq[seq] == hash, "acknowledged event \(seq) is missing or changed (head \(head))")
        }
        for (key, times) in attempts {
            let limit = config.limits.limit(for: key).limit
            let window = Int64(windows[key] ?? 60) * 1_000_000_000
            let sorted = times.sorted()
            var low = 0
            for (high, time) in sorted.enumerated() {
                while sorted[low] <= time - window { low += 1 }
                try require(high - low + 1 <= limit,
                                     "limiter \(key): \(high - low + 1) attempts within \(window / 1_000_000_000) s, over its quota of \(limit)")
            }
        }
        try projectionsAgree(store: store, events: events, config: config)
    }

    /// Each projection built from scratch (the parallel replay) and by folding the log event
    /// by event ends in the same canonical bytes.
    static func projectionsAgree(store: EventStore, events: [Event], config: HealingConfig) throws {
        let head = events.last?.seq ?? 0
        func agree<P: Projection>(_ projection: P) throws {
            let replayed = try projection.encode(Replay(store: store, projection: projection).state(at: head))
            var folded = projection.initialState
            projection.reduce(events, into: &folded)
            try require(try projection.encode(folded).digest == replayed.digest, "\(projection.name): the replay and the fold differ")
        }
        try agree(StatsProjection())
        try agree(StreamsProjection())
        try agree(BreakersProjection(config: config.breaker))
        try agree(LimitersProjection())
        try agree(TopologyProjection())
        try agree(ActionsProjection())
        try agree(MapekProjection())
    }

    /// After a rollback, every key of the target topology is restored or reported as not.
    static func rollbackRestored(_ report: RollbackReport, target: UInt64, store: EventStore?, engine: HealingEngine) async throws {
        guard let store else { return }
        let wanted = try Replay(store: store, projection: TopologyProjection()).state(at: target).value
        let now = await engine.topology
        let reported = Set(report.notRestored.map(\.key))
        for key in now.differingKeys(from: wanted) where !reported.contains(key.description) {
            // A key the target never knew cannot be restored and is not an action's.
            guard wanted.value(of: key) != "" else { continue }
            throw InvariantFailure("rollback to \(target): \(key) is \(now.value(of: key)), not \(wanted.value(of: key)), and not reported")
        }
    }
}
