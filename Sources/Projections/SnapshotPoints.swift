/// Where a replay takes snapshots: every multiple of `interval` (none when it is 0) and every
/// seq of `extra` (damaged snapshots to rewrite).
struct SnapshotSchedule: Sendable {
    let interval: UInt64
    /// Ascending.
    let extra: [UInt64]

    /// The first point after `seq`, or `UInt64.max` when there is none.
    func point(after seq: UInt64) -> UInt64 {
        let regular = interval > 0 && seq < .max - interval ? (seq / interval + 1) * interval : .max
        let repair = extra.first { $0 > seq } ?? .max
        return min(regular, repair)
    }
}

/// The snapshot points of one replay, and the states encoded there. Encodings run on other
/// cores (`BackgroundEncodings`) and are handed back in groups of `groupSize`, so that a long
/// catch-up holds at most that many and saves each group in one commit, while the replay
/// itself goes on without a break.
struct SnapshotPoints<P: Projection> {
    typealias Encoded = [(seq: UInt64, state: EncodedState)]

    private let projection: P
    let schedule: SnapshotSchedule
    private let groupSize: Int
    private var encodings: BackgroundEncodings<P>
    private var pending = 0
    /// The next point, or `UInt64.max` when none is left.
    private(set) var next: UInt64

    /// Points after `position`.
    init(_ projection: P, after position: UInt64, interval: UInt64 = 0, extra: [UInt64] = [], groupSize: Int = 8) {
        let schedule = SnapshotSchedule(interval: interval, extra: extra.sorted())
        self.projection = projection
        self.schedule = schedule
        self.groupSize = max(1, groupSize)
        encodings = BackgroundEncodings(projection)
        next = schedule.point(after: position)
    }

    /// No points at all: a plain replay.
    static func none(_ projection: P) -> Self { Self(projection, after: .max) }

    /// Records that the replay is at point `next` with `state`; returns a full group of
    /// encodings (ascending), or nil while the group fills.
    mutating func reached(_ state: P.State) throws(ProjectionError) -> Encoded? {
        encodings.encode(state, at: next)
        pending += 1
        next = schedule.point(after: next)
        guard pending == groupSize else { return nil }
        return try takeEncodings()
    }

    /// The encodings not yet handed back, once they are done.
    mutating func takeEncodings() throws(ProjectionError) -> Encoded {
        let done = encodings
        encodings = BackgroundEncodings(projection)
        pending = 0
        return try done.finish()
    }
}
