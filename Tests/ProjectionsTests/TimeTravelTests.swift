import EventStore
import Foundation
@testable import EventStore
import Projections
import TestKit
import Testing

@Suite("Time travel: state at any point, snapshots, versions, damage")
struct TimeTravelTests {
    @Test("state(at:) at every 97th position of a 20,000-event log equals a from-scratch build truncated there")
    func everyNinetySeventh() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try appendGeneric(store, count: 20_000)
        let projection = StatsProjection()
        let runner = try ProjectionRunner(store: store, projection: projection, snapshotInterval: 1_000)
        try runner.catchUp()
        #expect(try store.snapshots(name: "stats").count == 20)

        let replay = Replay(store: store, projection: projection)
        var scratch = projection.initialState
        var checked = 0
        try store.scan { event in
            projection.apply(event, to: &scratch)
            if event.seq % 97 == 0 {
                let replayed = try replay.state(at: event.seq)
                #expect(try projection.encode(replayed) == projection.encode(scratch), "at seq \(event.seq)")
                checked += 1
            }
            return true
        }
        #expect(checked == 20_000 / 97)
        // The live runner was not disturbed by any of it.
        #expect(runner.position == 20_000)
        #expect(runner.state == scratch)
    }

    @Test("a projection version bump ignores, then drops, the old version's snapshots")
    func versionBump() throws {
        struct Counter: Projection {
            var version: UInt32
            var name: String { "counter" }
            var initialState: Int { 0 }
            // Version 2 counts double: a v1 snapshot read as v2 would give a wrong total.
            func apply(_ event: Event, to state: inout Int) { state += Int(version) }
        }
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try appendGeneric(store, count: 1_000)
        let old = try ProjectionRunner(store: store, projection: Counter(version: 1), snapshotInterval: 100)
        try old.catchUp()
        #expect(old.state == 1_000)
        #expect(try store.snapshots(name: "counter").count == 10)

        let status = try RegisteredProjection(Counter(version: 2)).status(in: store)
        #expect(status.snapshots == 0 && status.staleSnapshots == 10 && status.checkpoint == 0 && status.lag == 1_000)
        #expect(try Replay(store: store, projection: Counter(version: 2)).state(at: 950) == 1_900)

        let warnings = WarningLog()
        let new = try ProjectionRunner(store: store, projection: Counter(version: 2), snapshotInterval: 100, warn: warnings.sink)
        #expect(new.position == 0)
        try new.catchUp()
        #expect(new.state == 2_000)
        #expect(try store.snapshots(name: "counter").allSatisfy { $0.version == 2 })
        #expect(warnings.all.contains { $0.contains("other versions") })
    }

    @Test("corrupt snapshot bytes are detected by digest, warned about, and rebuilt from the log")
    func corruptSnapshot() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try appendGeneric(store, count: 3_000)
        let projection = StatsProjection()
        try ProjectionRunner(store: store, projection: projection, snapshotInterval: 1_000).catchUp()
        let truth = try Replay(store: store, projection: projection).fromScratch(through: 2_500)

        // Flip one byte of the state of the snapshot at 2000, and cut the one at 1000 short.
        let key = EventStore.snapshotKey("stats", 2_000)
        try store.env.write { txn in
            guard var value = try txn.get(txn.dbs.snapshots, key) else { throw StoreError.corrupt(seq: 2_000, "missing") }
            value[value.count - 3] ^= 0x20
            try txn.put(txn.dbs.snapshots, key, value)
            try txn.put(txn.dbs.snapshots, EventStore.snapshotKey("stats", 1_000), [1, 2])
        }
        let warnings = WarningLog()
        let replayed = try Replay(store: store, projection: projection, warn: warnings.sink).state(at: 2_500)
        #expect(replayed == truth)
        #expect(warnings.all.contains { $0.contains("seq 2000") && $0.contains("digest") })
        #expect(warnings.all.contains { $0.contains("rebuilt the damaged snapshot at seq 2000") })
        // Both snapshots were rewritten from the log and are intact again.
        for seq: UInt64 in [1_000, 2_000] {
            let stored = try store.snapshot(name: "stats", atOrBefore: seq) { _ in true }
            #expect(stored?.seq == seq && stored?.isIntact == true)
            #expect(try stored.map { try projection.decode($0.state) } == Replay(store: store, projection: projection).fromScratch(through: seq))
        }
    }

    /// Keeps the last seq as a number, which cannot be encoded once it is infinite (at seq 150).
    struct LastSeq: Projection {
        let inPlace: Bool
        /// The state after this seq holds infinity, which the encoding refuses.
        var failAt: UInt64 = 150
        var snapshotInterval: UInt64 = 50
        var name: String { "last-seq" }
        var version: UInt32 { 1 }
        var initialState: [String: Double] { [:] }
        var fields: EventFields { .envelope }
        var readsRecordsInPlace: Bool { inPlace }
        func apply(_ event: Event, to state: inout [String: Double]) {
            state["last"] = event.seq == failAt ? .infinity : Double(event.seq)
        }
    }

    @Test("a state that cannot be encoded stops a catch-up with a typed error: nothing saved before the first snapshot, the runner where it was",
          arguments: [false, true])
    func unencodableState(inPlace: Bool) throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try appendGeneric(store, count: 300)
        let runner = try ProjectionRunner(store: store, projection: LastSeq(inPlace: inPlace))
        let error = #expect(throws: ProjectionError.self) { try runner.catchUp() }
        guard case .unencodableState(let name, _)? = error else {
            Issue.record("expected unencodableState, got \(String(describing: error))")
            return
        }
        #expect(name == "last-seq")
        #expect(runner.position == 0)
        #expect(runner.state.isEmpty)
        #expect(try store.snapshots(name: "last-seq").isEmpty)
    }

    @Test("a catch-up that fails part way keeps the snapshots saved before the failure; the runner stands at the last of them",
          arguments: [false, true])
    func failurePartWay(inPlace: Bool) throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try appendGeneric(store, count: 3_000)
        let runner = try ProjectionRunner(store: store, projection: LastSeq(inPlace: inPlace, failAt: 2_500, snapshotInterval: 10))
        #expect(throws: ProjectionError.self) { try runner.catchUp() }
        let saved = try store.snapshots(name: "last-seq").map(\.seq)
        // Snapshots are saved in groups as the catch-up goes: most of those before the
        // failure are kept, and the runner holds exactly the state of the newest.
        #expect(runner.position >= 2_000 && runner.position < 2_500)
        #expect(saved == Array(stride(from: 10, through: runner.position, by: 10)))
        #expect(runner.state == ["last": Double(runner.position)])
        #expect(try store.projectionCheckpoint(name: "last-seq")?.seq == runner.position)
        // Once the fault is gone (a fixed projection), the runner resumes from there.
        let fixed = try ProjectionRunner(store: store, projection: LastSeq(inPlace: inPlace, failAt: 0, snapshotInterval: 10))
        #expect(fixed.position == runner.position)
        #expect(try fixed.catchUp() == 3_000 - Int(runner.position))
        #expect(fixed.state == ["last": 3_000])
    }

    @Test("points: a seq must be in the log; a time picks the last event at or before it")
    func points() throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 1_795_000_000))
        let store = try makeStore(dir, clock: clock)
        defer { store.close() }
        for n in 0..<10 {
            _ = try store.appendBlocking([NewEvent(type: "t", stream: "s/\(n % 3)")])
            clock.advance(nanoseconds: 1_000_000_000)
        }
        let first = Timestamp(seconds: 1_795_000_000)
        #expect(try store.resolve(.seq(1)) == 1)
        #expect(try store.resolve(.seq(10)) == 10)
        #expect(try store.resolve(.time(first)) == 1)
        #expect(try store.resolve(.time(first.adding(nanoseconds: 4_500_000_000))) == 5)
        #expect(try store.resolve(.time(first.adding(nanoseconds: 5_000_000_000))) == 6)
        #expect(try store.resolve(.time(clock.now())) == 10)
        for bad: ReplayPoint in [.seq(0), .seq(11), .time(first.adding(nanoseconds: -1)), .time(clock.now().adding(nanoseconds: 1))] {
            #expect(throws: ProjectionError.self) { try store.resolve(bad) }
            do { _ = try store.resolve(bad) } catch { #expect(error.isBadInput) }
        }
        let (seq, state) = try Replay(store: store, projection: StreamsProjection()).state(at: .time(first.adding(nanoseconds: 2_000_000_000)))
        #expect(seq == 3)
        #expect(state.mapValues(\.version) == ["s/0": 1, "s/1": 1, "s/2": 1])
    }

    @Test("a running projection follows appends as they commit, and snapshots on the way")
    func liveRunner() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try appendGeneric(store, count: 120)
        let runner = try ProjectionRunner(store: store, projection: StatsProjection(), snapshotInterval: 50)
        let task = Task { try await runner.run() }
        try appendGeneric(store, count: 200, seed: 9)
        // Synchronises on the runner itself; false would mean run() ended before event 320.
        #expect(await runner.waitUntilApplied(320))
        task.cancel()
        #expect(runner.position == 320)
        #expect(runner.state == (try Replay(store: store, projection: StatsProjection()).fromScratch(through: 320)))
        #expect(try store.projectionCheckpoint(name: "stats")?.seq == 300)
        #expect(try store.snapshots(name: "stats").map(\.seq) == [50, 100, 150, 200, 250, 300])
    }
}
