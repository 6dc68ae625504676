import EventStore

/// Keeps one projection current in a process that holds the store: restores the latest usable
/// snapshot, catches up from there, then follows new events. Every `snapshotInterval` events
/// (at seqs that are multiples of it) the state is saved together with the checkpoint, in one
/// transaction.
///
/// Snapshots written by another version of the projection are deleted when the runner starts:
/// they are never read as this version's state.
public final class ProjectionRunner<P: Projection>: @unchecked Sendable {
    // @unchecked: `current` and `position` are guarded by `lock`.
    public let projection: P
    public let snapshotInterval: UInt64
    private let replay: Replay<P>
    private let lock = Mutex()
    private var current: P.State
    private var applied: UInt64

    /// - Parameter snapshotInterval: overrides the projection's own interval (0 disables snapshots).
    public init(store: EventStore, projection: P, snapshotInterval: UInt64? = nil,
                warn: @escaping @Sendable (String) -> Void = { _ in }) throws(ProjectionError) {
        self.projection = projection
        self.snapshotInterval = snapshotInterval ?? projection.snapshotInterval
        replay = Replay(store: store, projection: projection, warn: warn)
        let stale = try storeStep {
            try store.deleteSnapshots(name: projection.name, where: { $0.version != projection.version }, keepCheckpoint: true)
        }
        if stale > 0 { warn("projection \(projection.name): dropped \(stale) snapshots of other versions; rebuilding from the log") }
        let head = try storeStep { try store.head().seq }
        let (state, position, damaged) = try replay.restore(atOrBefore: head)
        current = state
        applied = position
        // Damaged snapshots ahead of the restored one are rewritten as the runner passes them.
        pendingRepairs = Set(damaged)
    }

    private var pendingRepairs: Set<UInt64>
    /// Snapshots saved per commit during a catch-up: few commits, and few encodings held.
    private static var snapshotsPerSave: Int { 8 }
    private var waiters: [(seq: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
    /// Set when `run()` ends (by cancellation, error or the store closing).
    private var ended = false

    /// The state after every event up to `position`.
    public var state: P.State { lock.withLock { current } }
    /// The seq of the last event applied.
    public var position: UInt64 { lock.withLock { applied } }
    public var store: EventStore { replay.store }

    /// Applies every event up to the store's head; returns how many it applied.
    @discardableResult
    public func catchUp() throws(ProjectionError) -> Int {
        try lock.withLock { () throws(ProjectionError) -> Int in
            let head = try storeStep { try replay.store.head().seq }
            let start = applied
            // One replay to the head, decoded in parallel end to end. Snapshot states are
            // encoded as it passes them and saved in groups, one commit each, while it goes on;
            // the runner adopts a state only once the snapshots up to it are saved, so a
            // failure (a state that cannot be encoded, a store error) leaves the runner's state
            // and position consistent with each other and with the checkpoint.
            var points = SnapshotPoints(projection, after: applied, interval: snapshotInterval,
                                        extra: Array(pendingRepairs), groupSize: Self.snapshotsPerSave)
            // The replay takes the state's storage over, so that applying does not copy a large
            // state whole on every catch-up; a failure before the first delivery rebuilds the
            // state at `applied` (from its snapshot) instead of keeping a second copy around.
            guard head > applied else { return 0 }
            var next = current
            current = projection.initialState
            var adopted = false
            do throws(ProjectionError) {
                _ = try replay.replay(&next, from: applied, through: head, snapshots: &points) { encoded, state, seq throws(ProjectionError) in
                    let snapshots = encoded.map { ($0.seq, $0.state.bytes, $0.state.digest) }
                    try storeStep { try store.saveSnapshots(name: projection.name, version: projection.version, snapshots) }
                    current = state
                    adopted = true
                    applied = seq
                    pendingRepairs.subtract(encoded.map(\.seq))
                    wakeWaiters()
                }
            } catch {
                if !adopted { restore() }
                throw error
            }
            return Int(applied - start)
        }
    }

    /// Takes `state` as the state after event `seq`, when the runner stands exactly at
    /// `expected` (nothing was applied since the caller computed it): for a writer that
    /// computed the state of its own append as it prepared it, so that the runner does not
    /// decode and apply those events once more. The caller promises that `state` is what
    /// applying events `expected + 1 ... seq` gives; returns false (and changes nothing) when
    /// the runner moved. Snapshot points passed this way are skipped.
    @discardableResult
    public func adopt(_ state: P.State, at seq: UInt64, ifAt expected: UInt64) -> Bool {
        lock.withLock {
            guard applied == expected, seq >= expected else { return false }
            current = state
            applied = seq
            wakeWaiters()
            return true
        }
    }

    /// Puts back the state at `applied` after a catch-up failed before adopting any state
    /// (the replay had taken the state over); from scratch if even that fails.
    private func restore() {
        if applied > 0, let state = try? replay.state(at: applied) {
            current = state
        } else {
            current = projection.initialState
            applied = 0
        }
    }

    /// Saves the current state as a snapshot and moves the checkpoint to it (for example before
    /// a planned shutdown, so the next start replays nothing).
    public func saveSnapshot() throws(ProjectionError) {
        try lock.withLock { () throws(ProjectionError) in
            guard applied > 0 else { return }
            try replay.save(current, at: applied)
        }
    }

    /// Catches up, then applies events as they commit in this process until the task is
    /// cancelled or the store closes.
    public func run() async throws {
        lock.withLock { ended = false }
        defer {
            lock.withLock {
                ended = true
                wakeWaiters()
            }
        }
        try catchUp()
        for try await event in store.follow(after: position) {
            try lock.withLock { () throws(ProjectionError) in
                guard event.seq == applied + 1 else { return }
                projection.apply(event, to: &current)
                applied = event.seq
                try snapshotIfDue()
                wakeWaiters()
            }
        }
    }

    /// Returns true once the runner has applied event `seq` (by `catchUp()` or `run()`), or
    /// false when `run()` has ended before getting there. Lets a caller synchronise on the
    /// runner instead of polling its position.
    public func waitUntilApplied(_ seq: UInt64) async -> Bool {
        await withCheckedContinuation { continuation in
            lock.withLock {
                if applied >= seq {
                    continuation.resume(returning: true)
                } else if ended {
                    continuation.resume(returning: false)
                } else {
                    waiters.append((seq, continuation))
                }
            }
        }
    }

    /// Resumes the waiters whose event has been applied, and all of them once `run()` has ended.
    /// Called with `lock` held.
    private func wakeWaiters() {
        let reached = waiters.filter { $0.seq <= applied || ended }
        waiters.removeAll { $0.seq <= applied || ended }
        for waiter in reached { waiter.continuation.resume(returning: waiter.seq <= applied) }
    }

    /// The state at an earlier (or the current) point, from snapshots and the log; the live
    /// state is untouched.
    public func state(at point: ReplayPoint) throws(ProjectionError) -> (seq: UInt64, state: P.State) {
        try replay.state(at: point)
    }

    private func snapshotIfDue() throws(ProjectionError) {
        let regular = snapshotInterval > 0 && applied % snapshotInterval == 0
        guard applied > 0, regular || pendingRepairs.contains(applied) else { return }
        try replay.save(current, at: applied)
        pendingRepairs.remove(applied)
    }
}
