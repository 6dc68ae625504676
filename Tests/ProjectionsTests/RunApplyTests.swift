@testable import EventStore
@testable import Projections
import TestKit
import Testing

@Suite("Runs of events: applying a run at once equals applying its events one by one")
struct RunApplyTests {
    static func event(_ i: Int) -> Event {
        let stream: String = String(repeating: "s", count: 20) + "/" + String(i % 700)
        let type: String = i % 3 == 0 ? "a.type.longer.than.sixteen" : "b"
        let time = Timestamp(nanoseconds: Int64((i * 7919) % 1_000))
        return Event(seq: UInt64(i + 1), id: "", time: time, hlc: HLC(wall: Int64(i), logical: 0), node: "node-" + String(i % 97),
                     stream: stream, version: 1, type: type, tags: [:], data: .map([:]),
                     causation: nil, correlation: nil, prev: .zero, hash: .zero)
    }

    @Test("stats counts a run exactly, whatever the names' representations, across tally growth")
    func statsRuns() {
        // Names longer than 15 bytes built one by one are distinct String objects with equal
        // contents: the tally keys them apart and must still merge them.
        let events = (0..<3_000).map(Self.event)
        let stats = StatsProjection()
        var single = stats.initialState
        for event in events { stats.apply(event, to: &single) }
        for runLength in [2, 17, 1_024, 3_000] {
            var runs = stats.initialState
            var start = 0
            while start < events.count {
                stats.apply(events[start..<min(events.count, start + runLength)], to: &runs)
                start += runLength
            }
            #expect(runs == single, "runs of \(runLength)")
        }
        #expect(single.streams.count == 700 && single.events == 3_000)
    }

    @Test("the determinism check catches a run form that disagrees with the one-by-one form")
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
    }
}
