import EventStore

/// Events a projection skipped because their payload did not decode, counted in its state so
/// that every build of it (incremental, from a snapshot, from scratch) counts the same, and so
/// that an operator sees them (`recoveryctl projections`). A log can hold such events however
/// carefully appends check: stores written by older versions, peers, a future format.
public struct MalformedEvents: Sendable, Codable, Equatable {
    public var count = 0
    /// The last one skipped: its seq, type and what was wrong.
    public var lastSeq: UInt64?
    public var lastType: String?
    public var lastError: String?

    public init() {}

    public mutating func record(_ event: Event, _ error: PayloadError) {
        count.addSaturated(1)
        lastSeq = event.seq
        lastType = event.type
        lastError = error.description
    }

    enum CodingKeys: String, CodingKey {
        case count, lastSeq = "last_seq", lastType = "last_type", lastError = "last_error"
    }
}

/// A projection's state together with the malformed events it skipped.
public struct Tolerant<Value: Codable & Equatable & Sendable>: Sendable, Codable, Equatable {
    public var value: Value
    public var malformed = MalformedEvents()

    public init(_ value: Value) { self.value = value }

    /// Runs `body`, the decoding and applying of one event; a payload error skips the event,
    /// counted, leaving `value` as `body` left it (so `body` must throw before it changes
    /// anything).
    public mutating func applying(_ event: Event, _ body: (inout Value) throws(PayloadError) -> Void) {
        do { try body(&value) } catch { malformed.record(event, error) }
    }
}

extension Projection {
    /// The malformed events the state counts, for projections that count them.
    public func malformedEvents(in state: State) -> MalformedEvents? {
        (state as? any TolerantState)?.malformedEvents
    }
}

/// Lets generic code read the count without knowing the value type.
protocol TolerantState { var malformedEvents: MalformedEvents { get } }
extension Tolerant: TolerantState { var malformedEvents: MalformedEvents { malformed } }
