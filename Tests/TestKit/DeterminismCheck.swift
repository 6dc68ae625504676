import EventStore
import Projections

/// The determinism contract of ARCHITECTURE.md (invariant 4), checked for any projection: over a
/// seeded random log, the state built incrementally (a runner catching up after every random
/// batch), from snapshots (a new runner and a replay restoring the latest snapshot), and from
/// scratch (a fold over fully decoded events) must have byte-identical encodings, and
/// `state(at:)` must equal the from-scratch state truncated at random points.
///
/// A domain plugs its projection in with a generator of its own events:
/// ```swift
/// let report = try DeterminismCheck.run(BreakersProjection(), seed: 7, events: 2_000) { rng, n in ... }
/// #expect(report.disagreements.isEmpty)
/// ```
public enum DeterminismCheck {
    public struct Report: Sendable {
        public let projection: String
        public let seed: UInt64
        public let events: Int
        public let snapshotInterval: UInt64
        public let snapshotsWritten: Int
        public let scratch: EncodedState
        public let incremental: EncodedState
        public let fromSnapshot: EncodedState
        public let replayed: EncodedState
        /// Each way of building that disagreed with the from-scratch state, by name, and each
        /// `state(at:)` point that did (`at N`).
        public let disagreements: [String]
    }

    public static func run<P: Projection>(_ projection: P, seed: UInt64, events count: Int, points: Int = 8,
                                          generate: (inout SplitMix64, Int) -> NewEvent) throws -> Report {
        var rng = SplitMix64(seed: seed)
        let directory = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 1_795_000_000))
        var options = StoreOptions()
        options.nodeID = "node-\(seed % 100)"
        options.clock = clock
        let store = try EventStore.open(at: directory.store(), options: options)
        defer { store.close() }

        let interval = 1 + rng.next() % UInt64(max(2, count / 3))
        let incremental = try ProjectionRunner(store: store, projection: projection, snapshotInterval: interval)
        var n = 0
        while n < count {
            let size = min(count - n, 1 + Int(rng.next() % 40))
            let batch = (0..<size).map { i in generate(&rng, n + i) }
            _ = try store.appendBlocking(batch)
            clock.advance(nanoseconds: Int64(rng.next() % 5_000_000))
            try incremental.catchUp()
            n += size
        }

        let head = try store.head().seq
        var all: [Event] = []
        try store.scan { all.append($0); return true }
        func scratch(through seq: UInt64) -> P.State {
            var state = projection.initialState
            projection.reduce(all.prefix(Int(seq)), into: &state)
            return state
        }

        let fromSnapshot = try ProjectionRunner(store: store, projection: projection, snapshotInterval: interval)
        try fromSnapshot.catchUp()
        let replay = Replay(store: store, projection: projection)
        let reference = try projection.encode(scratch(through: head))
        let built: [(String, EncodedState)] = [
            ("incremental", try projection.encode(incremental.state)),
            ("from snapshot", try projection.encode(fromSnapshot.state)),
            ("replay to head", try projection.encode(replay.state(at: head))),
        ]
        var disagreements = built.filter { $0.1 != reference }.map(\.0)
        for _ in 0..<points where head > 0 {
            let seq = 1 + rng.next() % head
            if try projection.encode(replay.state(at: seq)) != projection.encode(scratch(through: seq)) {
                disagreements.append("at \(seq)")
            }
        }
        return Report(projection: projection.name, seed: seed, events: Int(head), snapshotInterval: interval,
                      snapshotsWritten: try store.snapshots(name: projection.name).count, scratch: reference,
                      incremental: built[0].1, fromSnapshot: built[1].1, replayed: built[2].1, disagreements: disagreements)
    }
}
