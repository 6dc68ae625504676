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
        state.events += 1
        state.types[event.type, default: 0] += 1
        state.streams[event.stream, default: 0] += 1
        state.nodes[event.node, default: 0] += 1
        let time = event.time.nanoseconds
        state.firstTime = min(state.firstTime ?? time, time)
        state.lastTime = max(state.lastTime ?? time, time)
        state.lastSeq = event.seq
    }

    /// A run at a time: each distinct type, stream and node of the run is hashed once.
    public func apply(_ events: ArraySlice<Event>, to state: inout State) {
        guard events.count > 1 else {
            for event in events { apply(event, to: &state) }
            return
        }
        var types = NameTally(capacity: 64), streams = NameTally(capacity: events.count), nodes = NameTally(capacity: 64)
        for event in events {
            types.add(event.type)
            streams.add(event.stream)
            nodes.add(event.node)
            let time = event.time.nanoseconds
            state.firstTime = min(state.firstTime ?? time, time)
            state.lastTime = max(state.lastTime ?? time, time)
            state.lastSeq = event.seq
        }
        state.events += events.count
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
}
