import EventStore
import Projections
import TestKit

/// Opens a store in `dir` with a manual clock.
func makeStore(_ dir: TemporaryDirectory, clock: ManualClock = ManualClock(Timestamp(seconds: 1_795_000_000))) throws -> EventStore {
    var options = StoreOptions()
    options.nodeID = "node-t"
    options.clock = clock
    return try EventStore.open(at: dir.store(), options: options)
}

/// A random event over a few types, streams, nodes and tags: enough variety for the generic
/// projections, which read only the envelope.
func genericEvent(_ rng: inout SplitMix64, _ n: Int) -> NewEvent {
    let types = ["symptom.detected", "action.planned", "action.succeeded", "breaker.transitioned", "crdt.op", "operator.note"]
    var event = NewEvent(type: types[Int(rng.next() % UInt64(types.count))], stream: "service/s-\(rng.next() % 17)",
                         data: ["n": .int(Int64(n)), "value": .double(Double(rng.next() % 1000) / 10)],
                         tags: rng.next() % 3 == 0 ? ["service": "svc-\(rng.next() % 4)"] : [:])
    event.node = "node-\(rng.next() % 5)"
    return event
}

/// Appends `count` generic events in batches of 500 (one seed, so the log is reproducible).
func appendGeneric(_ store: EventStore, count: Int, seed: UInt64 = 1) throws {
    var rng = SplitMix64(seed: seed)
    var n = 0
    while n < count {
        let size = min(500, count - n)
        _ = try store.appendBlocking((0..<size).map { genericEvent(&rng, n + $0) })
        n += size
    }
}

/// Collects warnings from a replay (they arrive on whatever thread replays).
final class WarningLog: @unchecked Sendable {
    private let lock = Mutex()
    private var messages: [String] = []
    var all: [String] { lock.withLock { messages } }
    var sink: @Sendable (String) -> Void { { message in self.lock.withLock { self.messages.append(message) } } }
}
