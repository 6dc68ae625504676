import EventStore

/// Builds a projection's state at any point from the log: the nearest usable snapshot at or
/// before the point, then a replay of the gap. Reading never disturbs a live runner; the only
/// write is the repair of a damaged snapshot, which is rewritten with the state replayed from
/// the log.
public struct Replay<P: Projection>: Sendable {
    public let store: EventStore
    public let projection: P
    /// Told about snapshots that were skipped (damaged, or written by another version).
    public let warn: @Sendable (String) -> Void

    /// Events per call of `Projection.apply(_:to:)` during a replay.
    static var runLength: Int { 1_024 }

    public init(store: EventStore, projection: P, warn: @escaping @Sendable (String) -> Void = { _ in }) {
        self.store = store
        self.projection = projection
        self.warn = warn
    }

    /// The state after events 1 through `seq` (0 gives the initial state).
    public func state(at seq: UInt64) throws(ProjectionError) -> P.State {
        do {
            return try replayed(at: seq)
        } catch .store(.archived(_, let liveFrom, let location)) where seq < liveFrom - 1 {
            // Named by the point asked for, not the first event the replay missed.
            throw .store(.archived(seq: seq, liveFrom: liveFrom, location: location))
        }
    }

    private func replayed(at seq: UInt64) throws(ProjectionError) -> P.State {
        var (state, position, damaged) = try restore(atOrBefore: seq)
        // Each damaged snapshot passed on the way is a snapshot point: rewritten, as it is
        // reached, with the state replayed from the log.
        var points = SnapshotPoints(projection, after: position, extra: damaged.filter { $0 <= seq }, groupSize: 1)
        let projection = self.projection
        _ = try replay(&state, from: position, through: seq, snapshots: &points) { encoded, _, _ throws(ProjectionError) in
            for (at, repaired) in encoded {
                try storeStep { try store.saveSnapshots(name: projection.name, version: projection.version, [(at, repaired.bytes, repaired.digest)]) }
                warn("projection \(projection.name): rebuilt the damaged snapshot at seq \(at) from the log")
            }
        }
        return state
    }

    /// The state at `point` and the seq the point resolved to.
    public func state(at point: ReplayPoint) throws(ProjectionError) -> (seq: UInt64, state: P.State) {
        let seq = try store.resolve(point)
        return (seq, try state(at: seq))
    }

    /// The state after events 1 through `seq`, ignoring every snapshot.
    public func fromScratch(through seq: UInt64) throws(ProjectionError) -> P.State {
        var state = projection.initialState
        _ = try replay(&state, from: 0, through: seq)
        return state
    }

    /// Applies events `position + 1 ... seq`; returns the new position.
    func replay(_ state: inout P.State, from position: UInt64, through seq: UInt64) throws(ProjectionError) -> UInt64 {
        var points = SnapshotPoints.none(projection)
        return try replay(&state, from: position, through: seq, snapshots: &points) { _, _, _ throws(ProjectionError) in }
    }

    /// Applies events `position + 1 ... seq`, encoding the state at each of `points` as it
    /// passes them; returns the new position. `deliver` gets each full group of encodings with
    /// the state after the last of them and its seq, then, at the end, the encodings left with
    /// the state where the replay stopped. The replay goes on while encodings and deliveries
    /// happen, so a catch-up of a long log is one scan, not one per group. An error (from
    /// `deliver` too) ends it; what was delivered before stands.
    func replay(_ state: inout P.State, from position: UInt64, through seq: UInt64, snapshots points: inout SnapshotPoints<P>,
                deliver: (SnapshotPoints<P>.Encoded, P.State, UInt64) throws(ProjectionError) -> Void) throws(ProjectionError) -> UInt64 {
        guard seq > position else { return position }
        // Errors of `deliver` are kept here and rethrown: the scan would wrap them as store errors.
        var failure: ProjectionError?
        func passPoint(_ state: P.State) -> Bool {
            do throws(ProjectionError) {
                let at = points.next
                if let group = try points.reached(state) { try deliver(group, state, at) }
                return true
            } catch {
                failure = error
                return false
            }
        }
        let reached: UInt64
        if let combine = projection.combineRuns {
            reached = try replayCombining(&state, from: position, through: seq, combine: combine, schedule: points.schedule,
                                          points: { points.next }, passPoint: passPoint)
        } else if projection.replaysInPlace {
            reached = try replayInPlace(&state, from: position, through: seq, points: { points.next }, passPoint: passPoint)
        } else {
            reached = try replayEvents(&state, from: position, through: seq, points: { points.next }, passPoint: passPoint)
        }
        if let failure { throw failure }
        try deliver(try points.takeEncodings(), state, reached)
        return reached
    }

    /// `replay` for decoded events: `passPoint` is called with the state at each snapshot
    /// point (`nextPoint()`), and a false return stops the replay.
    private func replayEvents(_ state: inout P.State, from position: UInt64, through seq: UInt64,
                              points nextPoint: () -> UInt64, passPoint: (P.State) -> Bool) throws(ProjectionError) -> UInt64 {
        let projection = self.projection
        // Events are handed to the projection in runs (see `Projection.apply(_:to:)`), cut at
        // every snapshot point.
        var run: [Event] = []
        run.reserveCapacity(Self.runLength)
        func applyRun() {
            projection.apply(run[...], to: &state)
            run.removeAll(keepingCapacity: true)
        }
        // The replay decodes on other cores while this thread applies (the projection stays
        // strictly sequential).
        let chunkSize = Self.chunkSize(position, seq)
        let reached = try storeStep {
            try store.scanInParallel(from: position + 1, through: seq, fields: projection.fields, chunkSize: chunkSize) { event in
                run.append(event)
                guard event.seq == nextPoint() else {
                    if run.count == Self.runLength { applyRun() }
                    return true
                }
                applyRun()
                return passPoint(state)
            }
        }
        applyRun()
        return reached
    }

    /// `replay` for a projection that reads records in place: runs of records viewed where
    /// they were read (on other cores, chunks as for events), cut at every snapshot point.
    /// A run is a whole chunk, so per-run work (a `String` per distinct name, for `stats`) is
    /// spread over thousands of records: in runs of 1,024 over 2,000 streams nearly every
    /// record brought a new name.
    private func replayInPlace(_ state: inout P.State, from position: UInt64, through seq: UInt64,
                               points nextPoint: () -> UInt64, passPoint: (P.State) -> Bool) throws(ProjectionError) -> UInt64 {
        let projection = self.projection
        let chunkSize = Self.inPlaceChunkSize(position, seq)
        return try storeStep {
            try store.scanRecordsInParallel(from: position + 1, through: seq, chunkSize: chunkSize, runLength: chunkSize) { run in
                var start = run.startIndex
                // Records of a run have consecutive seqs: a snapshot point's index follows.
                while start < run.endIndex, nextPoint() <= run[run.endIndex - 1].seq {
                    let cut = start + Int(nextPoint() - run[start].seq) + 1
                    projection.apply(run[start..<cut], to: &state)
                    start = cut
                    if !passPoint(state) { return false }
                }
                if start < run.endIndex { projection.apply(run[start..<run.endIndex], to: &state) }
                return true
            }
        }
    }

    /// `replay` for a projection whose runs combine (`Projection.combineRuns`): each chunk is
    /// applied to the initial state on the core that read it, and this thread only combines
    /// the results in log order. Chunks end at every snapshot point, so that the state there
    /// is whole.
    private func replayCombining(_ state: inout P.State, from position: UInt64, through seq: UInt64,
                                 combine: (inout P.State, P.State) -> Void, schedule: SnapshotSchedule,
                                 points nextPoint: () -> UInt64, passPoint: (P.State) -> Bool) throws(ProjectionError) -> UInt64 {
        let projection = self.projection
        let initial = projection.initialState
        // The first point at or after a chunk's first seq ends it.
        let endsAt: @Sendable (UInt64) -> UInt64 = { low in schedule.point(after: low - 1) }
        func absorb(_ later: P.State, _ range: ClosedRange<UInt64>) -> Bool {
            combine(&state, later)
            return range.upperBound == nextPoint() ? passPoint(state) : true
        }
        return try storeStep {
            if projection.replaysInPlace {
                return try store.summarizeRecordsInParallel(
                    from: position + 1, through: seq, chunkSize: Self.combiningChunkSize(position, seq), endsAt: endsAt,
                    summarize: { run in
                        var applied = initial
                        projection.apply(run, to: &applied)
                        return applied
                    }, absorb)
            }
            return try store.summarizeInParallel(
                from: position + 1, through: seq, fields: projection.fields, chunkSize: Self.combiningChunkSize(position, seq), endsAt: endsAt,
                summarize: { events in
                    var applied = initial
                    projection.apply(events, to: &applied)
                    return applied
                }, absorb)
        }
    }

    /// Chunks of a parallel replay: an eighth of the gap, within 1,024...16,384 events:
    /// measured in `ScanProfile`, a 9,999-event gap (the worst for `state(at:)` with snapshots
    /// every 10,000) replays 20% faster in chunks of 1,250 than sequentially, while chunks of
    /// half the gap gain nothing. A gap under two chunks is scanned directly.
    static func chunkSize(_ position: UInt64, _ seq: UInt64) -> Int {
        Int(min(16_384, max(1_024, (seq - position) / 8)))
    }

    /// Chunks of an in-place replay hold copies of their records (about 4 MB for 8,192 of the
    /// benchmark's), and a store keeps a few such buffers for the next scan: capped lower, so
    /// that memory stays small and the same for any replay past 64K records.
    static func inPlaceChunkSize(_ position: UInt64, _ seq: UInt64) -> Int {
        min(8_192, chunkSize(position, seq))
    }

    /// Chunks of a combining replay: each chunk's result is a whole state, made and combined
    /// once per chunk, so chunks are larger, a quarter of the gap within 2,048...10,000. Ten
    /// thousand, the default snapshot interval, makes a rebuild one chunk per interval, and
    /// keeps the memory of in-place chunks (copies of their records) the same for any replay
    /// past 40,000 events.
    static func combiningChunkSize(_ position: UInt64, _ seq: UInt64) -> Int {
        Int(min(10_000, max(2_048, (seq - position) / 4)))
    }

    /// The newest intact snapshot of this version at or before `seq` (else the initial state),
    /// and the seqs of damaged snapshots passed over on the way.
    func restore(atOrBefore seq: UInt64) throws(ProjectionError) -> (P.State, UInt64, damaged: [UInt64]) {
        var damaged: [UInt64] = []
        var restored: P.State?
        let projection = self.projection
        let snapshot = try storeStep {
            try store.snapshot(name: projection.name, atOrBefore: seq) { candidate in
                // A value too short for its header has no version; it counts as damaged.
                let headerless = candidate.digest == .zero && candidate.state.isEmpty
                guard candidate.version == projection.version || headerless else { return false }
                guard candidate.isIntact, let state = try? projection.decode(candidate.state) else {
                    damaged.append(candidate.seq)
                    return false
                }
                restored = state
                return true
            }
        }
        for seq in damaged {
            warn("projection \(projection.name): the snapshot at seq \(seq) does not match its digest; replaying from an earlier point")
        }
        guard let snapshot, let restored else { return (projection.initialState, 0, damaged) }
        return (restored, snapshot.seq, damaged)
    }

    func save(_ state: P.State, at seq: UInt64) throws(ProjectionError) {
        let encoded = try projection.encode(state)
        let projection = self.projection
        try storeStep { try store.saveSnapshots(name: projection.name, version: projection.version, [(seq, encoded.bytes, encoded.digest)]) }
    }
}
