@testable import EventStore
@testable import Projections
import TestKit
import Testing

@Suite("Runs of events: applying a run at once equals applying its events one by one")
struct RunApplyTests {
    @Test("stats counts runs of records read in place exactly as event by event, across tally growth")
    func statsRuns() throws {
        let dir = TemporaryDirectory()
        let store = try EventStore.open(at: dir.store())
        defer { store.close() }
        // Types share their first sixteen bytes (the tally must compare the rest); more
        // distinct types and nodes than a run's tally starts with, so it grows.
        let events = (0..<3_000).map { i in
            NewEvent(type: "a.type.longer.than.sixteen.\(i % 100)", stream: "s/\(i % 700)", data: [:], node: "node-\(i % 97)")
        }
        _ = try store.appendBlocking(events)
        let stats = StatsProjection()
        var single = stats.initialState
        try store.scan(fields: .envelope) { stats.apply($0, to: &single); return true }
        for runLength in [1, 17, 1_024, 3_000] {
            var runs = stats.initialState
            try store.scanRecords(runLength: runLength) { stats.apply($0, to: &runs); return true }
            #expect(runs == single, "runs of \(runLength)")
        }
        #expect(single.streams.count == 700 && single.types.count == 100 && single.nodes.count == 97 && single.events == 3_000)
    }

    @Test("the determinism check catches a run form, of events or of records, that disagrees with the one-by-one form")
    func catchesBadRuns() throws {
        struct DropsLast: Projection {
            var name: String { "drops-last" }
            var version: UInt32 { 1 }
            var initialState: Int { 0 }
            var fields: EventFields { .envelope }
            func apply(_ event: Event, to state: inout Int) { state += 1 }
            func apply(_ events: ArraySlice<Event>, to state: inout Int) { state += max(0, events.count - 1) }
        }
        let report = try DeterminismCheck.run(DropsLast(), seed: 5, events: 300, generate: genericEvent)
        #expect(!report.disagreements.isEmpty)

        struct DropsLastRecord: Projection {
            var name: String { "drops-last-record" }
            var version: UInt32 { 1 }
            var initialState: Int { 0 }
            var fields: EventFields { .envelope }
            var readsRecordsInPlace: Bool { true }
            func apply(_ event: Event, to state: inout Int) { state += 1 }
            func apply(_ records: RecordRun, to state: inout Int) { state += max(0, records.count - 1) }
        }
        let inPlace = try DeterminismCheck.run(DropsLastRecord(), seed: 5, events: 300, generate: genericEvent)
        #expect(!inPlace.disagreements.isEmpty)
    }

    @Test("the determinism check catches runs that do not combine as the projection claims", arguments: [false, true])
    func catchesBadCombiner(inPlace: Bool) throws {
        /// Claims its runs combine, but keeps the earlier state's last seq where the later
        /// run's belongs.
        struct KeepsFirst: Projection {
            let inPlace: Bool
            var name: String { "keeps-first" }
            var version: UInt32 { 1 }
            var initialState: [UInt64] { [0, 0] }
            var fields: EventFields { .envelope }
            var readsRecordsInPlace: Bool { inPlace }
            func apply(_ event: Event, to state: inout [UInt64]) { state = [state[0] + 1, event.seq] }
            var combineRuns: (@Sendable (inout [UInt64], [UInt64]) -> Void)? { { state, later in state[0] += later[0] } }
        }
        let report = try DeterminismCheck.run(KeepsFirst(inPlace: inPlace), seed: 9, events: 300, generate: genericEvent)
        #expect(!report.disagreements.isEmpty)
    }

    @Test("stats and streams combine runs applied apart into exactly the state of one sequential pass")
    func combinersAgree() throws {
        let dir = TemporaryDirectory()
        let store = try EventStore.open(at: dir.store())
        defer { store.close() }
        var rng = SplitMix64(seed: 11)
        _ = try store.appendBlocking((0..<2_000).map { genericEvent(&rng, $0) })
        var events: [Event] = []
        try store.scan(fields: .envelope) { events.append($0); return true }
        func check<P: Projection>(_ projection: P) throws {
            let combine = try #require(projection.combineRuns)
            var sequential = projection.initialState
            projection.reduce(events, into: &sequential)
            // Runs split at random points, each applied to the initial state, then combined.
            var combined = projection.initialState
            var start = 0
            while start < events.count {
                let end = min(events.count, start + 1 + Int(rng.next() % 300))
                var later = projection.initialState
                projection.reduce(events[start..<end], into: &later)
                combine(&combined, later)
                start = end
            }
            #expect(try projection.encode(combined) == projection.encode(sequential), "\(projection.name)")
        }
        try check(StatsProjection())
        try check(StreamsProjection())
    }
}
