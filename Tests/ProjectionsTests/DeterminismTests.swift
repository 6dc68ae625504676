import EventStore
import Projections
import TestKit
import Testing
import Foundation

/// Seeds for the property runs; `RECOVERY_PROPERTY_SEEDS=N` runs N of them instead of 3.
let propertySeeds: [UInt64] = (1...UInt64(ProcessInfo.processInfo.environment["RECOVERY_PROPERTY_SEEDS"].flatMap(Int.init) ?? 3)).map { $0 * 7919 }

@Suite("Projection determinism: incremental, from snapshots and from scratch agree to the byte")
struct DeterminismTests {
    @Test("stats", arguments: propertySeeds)
    func stats(seed: UInt64) throws {
        let report = try DeterminismCheck.run(StatsProjection(), seed: seed, events: 1_500, generate: genericEvent)
        #expect(report.disagreements.isEmpty, "seed \(seed), interval \(report.snapshotInterval)")
        #expect(report.snapshotsWritten > 0)
        #expect(report.scratch.digest == report.fromSnapshot.digest)
    }

    @Test("streams", arguments: propertySeeds)
    func streams(seed: UInt64) throws {
        let report = try DeterminismCheck.run(StreamsProjection(), seed: seed, events: 1_500, generate: genericEvent)
        #expect(report.disagreements.isEmpty, "seed \(seed), interval \(report.snapshotInterval)")
        #expect(report.snapshotsWritten > 0)
    }

    @Test("a long replay on every core, with snapshot points on the way, equals the one-by-one fold, for each projection that combines")
    func longCombinedReplays() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try appendGeneric(store, count: 20_000, seed: 3)
        var events: [Event] = []
        try store.scan { events.append($0); return true }
        func check<P: Projection>(_ projection: P) throws {
            #expect(projection.combineRuns != nil, "\(projection.name)")
            var folded = projection.initialState
            projection.reduce(events, into: &folded)
            let reference = try projection.encode(folded)
            // From scratch: chunks of up to 5,000 read on other cores, no points.
            let replay = Replay(store: store, projection: projection)
            #expect(try projection.encode(replay.fromScratch(through: 20_000)) == reference, "\(projection.name) from scratch")
            // A catch-up cut at every 3,000th event (not a multiple of any chunk size), then a
            // replay from the snapshot nearest 19,999.
            let runner = try ProjectionRunner(store: store, projection: projection, snapshotInterval: 3_000)
            try runner.catchUp()
            #expect(try projection.encode(runner.state) == reference, "\(projection.name) caught up")
            #expect(try store.snapshots(name: projection.name).map(\.seq) == Array(stride(from: 3_000, through: 18_000, by: 3_000)))
            var before = projection.initialState
            projection.reduce(events.prefix(19_999), into: &before)
            #expect(try projection.encode(replay.state(at: 19_999)) == projection.encode(before), "\(projection.name) at 19,999")
        }
        try check(StatsProjection())
        try check(StreamsProjection())
    }

    /// The README's example of a projection reading records in place, verbatim.
    struct SuccessesPerNode: Projection {
        var name: String { "successes-per-node" }
        var version: UInt32 { 1 }
        var initialState: [String: Int] { [:] }
        var fields: EventFields { .envelope }          // required for reading in place
        var readsRecordsInPlace: Bool { true }
        func apply(_ event: Event, to state: inout [String: Int]) {
            if event.type == "action.succeeded" { state[event.node, default: 0] += 1 }
        }
        func apply(_ records: RecordRun, to state: inout [String: Int]) {   // must agree with the above
            for record in records where record.type.matches("action.succeeded") { state[record.node.string, default: 0] += 1 }
        }
    }

    @Test("the README's in-place projection", arguments: propertySeeds)
    func readmeInPlace(seed: UInt64) throws {
        let report = try DeterminismCheck.run(SuccessesPerNode(), seed: seed, events: 1_500, generate: genericEvent)
        #expect(report.disagreements.isEmpty, "seed \(seed), interval \(report.snapshotInterval)")
        #expect(try report.scratch.value() != .map([:]))
    }

    @Test("the check catches a projection that is not deterministic")
    func catchesNondeterminism() throws {
        // Reads a tag while declaring that it needs only the envelope: replay (which skips
        // tags) and the full-decode fold disagree, and the check must say so.
        struct Sloppy: Projection {
            var name: String { "sloppy" }
            var version: UInt32 { 1 }
            var initialState: [String: Int] { [:] }
            var fields: EventFields { .envelope }
            func apply(_ event: Event, to state: inout [String: Int]) {
                state[event.tags["service"] ?? "none", default: 0] += 1
            }
        }
        let report = try DeterminismCheck.run(Sloppy(), seed: 3, events: 300, generate: genericEvent)
        #expect(!report.disagreements.isEmpty)
    }
}
