import EventStore

/// A point in the log (EVENTS.md, points and ranges): `.seq(N)` is the state after events 1
/// through N; `.time(T)` is the state after the last event, in log order, whose time is at or
/// before T.
public enum ReplayPoint: Sendable, Hashable, CustomStringConvertible {
    case seq(UInt64)
    case time(Timestamp)

    public var description: String {
        switch self {
        case .seq(let seq): return "seq \(seq)"
        case .time(let time): return "time \(time)"
        }
    }
}

extension EventStore {
    /// The seq a point stands for. A seq must lie in 1...head; a time must not be earlier than
    /// the first event's time nor later than now (by the store's clock): both are errors rather
    /// than a silent empty or current state.
    public func resolve(_ point: ReplayPoint) throws(ProjectionError) -> UInt64 {
        let head = try storeStep { try self.head().seq }
        guard head > 0 else { throw .pointOutOfRange("the store holds no events yet, so there is no \(point)") }
        switch point {
        case .seq(let seq):
            guard seq >= 1 else { throw .pointOutOfRange("seq \(seq) is before the first event (seqs start at 1)") }
            guard seq <= head else { throw .pointOutOfRange("seq \(seq) is after the last event (the head is seq \(head))") }
            return seq
        case .time(let time):
            let now = options.clock.now()
            guard time <= now else { throw .pointOutOfRange("time \(time) is in the future (now is \(now))") }
            // The newest event at or before `time`. The log is nearly always in time order, so a
            // backward scan from the head stops after a few events for recent points.
            var found: UInt64?
            _ = try storeStep {
                try scanBackward(fields: .envelope) { event in
                    if event.time <= time { found = event.seq; return false }
                    return true
                }
            }
            guard let found else {
                let first = try storeStep { try event(at: 1)?.time }
                throw .pointOutOfRange("time \(time) is before the first event (at \(first.map { "\($0)" } ?? "?"))")
            }
            return found
        }
    }
}
