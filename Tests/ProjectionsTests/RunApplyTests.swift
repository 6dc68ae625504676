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
}
