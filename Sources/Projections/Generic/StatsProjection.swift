import EventStore

/// Counts per event type, stream and node, and the span of the log: the first thing an operator
/// asks of a store, answerable at any point in its history.
public struct StatsProjection: Projection {
    public struct State: Codable, Equatable, Sendable {
        public var events: Int = 0
        public var types: [String: Int] = [:]
        public var streams: [String: Int] = [:]
        public var nodes: [String: Int] = [:]
        public var firstTime: Int64?
        public var lastTime: Int64?
        public var lastSeq: UInt64 = 0

        public init() {}

        /// Adds the counts of `later`, the stats of the events that follow.
        mutating func absorb(_ later: State) {
            guard later.events > 0 else { return }
            // Saturating: a state read from a snapshot may hold any count.
            events.addSaturated(later.events)
            types.merge(later.types) { $0.addingSaturated($1) }
            streams.merge(later.streams) { $0.addingSaturated($1) }
            nodes.merge(later.nodes) { $0.addingSaturated($1) }
            if let time = later.firstTime { firstTime = min(firstTime ?? time, time) }
            if let time = later.lastTime { lastTime = max(lastTime ?? time, time) }
            lastSeq = later.lastSeq
        }

        enum CodingKeys: String, CodingKey {
            case events, types, streams, nodes
            case firstTime = "first_time_ns", lastTime = "last_time_ns", lastSeq = "last_seq"
        }
    }

    public init() {}
    public var name: String { "stats" }
    public var version: UInt32 { 1 }
    public var initialState: State { State() }
    // Only envelope fields: replay skips payloads, tags and ids.
    public var fields: EventFields { .envelope }

    public func apply(_ event: Event, to state: inout State) {
        state.events.addSaturated(1)
        state.types[event.type, default: 0].addSaturated(1)
        state.streams[event.stream, default: 0].addSaturated(1)
        state.nodes[event.node, default: 0].addSaturated(1)
        let time = event.time.nanoseconds
        state.firstTime = min(state.firstTime ?? time, time)
        state.lastTime = max(state.lastTime ?? time, time)
        state.lastSeq = event.seq
    }

    /// Counts add up: replays count runs on several cores and add the counts.
    public var combineRuns: (@Sendable (inout State, State) -> Void)? { { state, later in state.absorb(later) } }

    /// Replays hand `stats` records read in place (it needs no payload, tags or links).
    public var readsRecordsInPlace: Bool { true }

    /// A run at a time: the names are counted as the records' bytes, and each distinct type,
    /// stream and node of the run becomes a `String`, hashed into the state, once.
    public func apply(_ records: RecordRun, to state: inout State) {
        let types = TextTally(capacity: 64), streams = TextTally(capacity: records.count), nodes = TextTally(capacity: 64)
        for record in records {
            types.add(record.type)
            streams.add(record.stream)
            nodes.add(record.node)
            let time = record.time.nanoseconds
            state.firstTime = min(state.firstTime ?? time, time)
            state.lastTime = max(state.lastTime ?? time, time)
            state.lastSeq = record.seq
        }
        state.events.addSaturated(records.count)
        types.add(to: &state.types)
        streams.add(to: &state.streams)
        nodes.add(to: &state.nodes)
    }
}

/// Every stream's head version and the seq of its last event: what optimistic-concurrency
/// callers and auditors need, at any point.
public struct StreamsProjection: Projection {
    public struct Head: Codable, Equatable, Sendable {
        public var version: UInt64
        public var lastSeq: UInt64
        public var lastType: String

        enum CodingKeys: String, CodingKey {
            case version, lastSeq = "last_seq", lastType = "last_type"
        }
    }

    public typealias State = [String: Head]

    public init() {}
    public var name: String { "streams" }
    public var version: UInt32 { 1 }
    public var initialState: State { [:] }
    public var fields: EventFields { .envelope }

    public func apply(_ event: Event, to state: inout State) {
        state[event.stream] = Head(version: event.version, lastSeq: event.seq, lastType: event.type)
    }

    /// A later run's heads replace earlier ones.
    public var combineRuns: (@Sendable (inout State, State) -> Void)? { { state, later in state.merge(later) { _, newer in newer } } }
}
