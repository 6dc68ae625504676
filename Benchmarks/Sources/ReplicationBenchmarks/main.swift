import BenchWorkload
import EventStore
import Foundation
import Projections
import Replication

// Issue 14's benchmarks: operations applied per second (durably logged) beside the engine's
// own batched append of the same events; a sync of N operations between two stores (time,
// bytes); state and log size before and after collection on a churn workload. pycrdt (Yjs's
// Rust core, in memory) runs the same workloads from `make bench` (pycrdt_bench.py).
let count = Int(ProcessInfo.processInfo.environment["BENCH_OPS"] ?? "") ?? 100_000
print("# replication benchmarks: \(count) map writes (distinct keys, integer values), durable commits")

func replica(_ name: String) throws -> (Replica, EventStore) {
    var options = StoreOptions()
    options.replicaID = name
    let store = try EventStore.open(at: freshDirectory(name), options: options)
    return (Replica(log: try StoreLog(store: store)), store)
}

// The source: N writes, in commits of 1,000 through one bundle-free path (receive of its own
// pages would be circular), so that the timed part below is the sync and the apply alone.
let (source, sourceStore) = try replica("source")
let writer = Replica(log: MemoryLog(replicaID: "writer", clock: SystemClock()))
for i in 0..<count { try writer.put(map: "m", key: "key-\(i)", value: .int(Int64(i))) }
var pageRequest = SyncRequest(replica: "source", vector: VersionVector())
while true {
    let page = try writer.respond(to: pageRequest, limit: 10_000, acknowledging: false)
    try source.receive(page)
    for op in page.operations { pageRequest.vector[op.dot.replica] = op.dot.counter }
    if !page.more { break }
}

// 1. Sync: a new target pulls everything from the source, page by page, in the binary encoding.
// Commit times vary run to run on this machine by ±20%, so each side is measured three times
// and the best is reported.
@MainActor func syncOnce(_ round: Int) throws -> (seconds: Double, bytes: Int, delivered: Int, target: Replica, store: EventStore) {
    let (target, targetStore) = try replica("target-\(round)")
    var bytes = 0, delivered = 0
    let elapsed = try seconds {
        delivered = try target.pull { request in
            let message = SyncCoding.encode(try source.respond(to: request, limit: SyncLimits.pageOperations, acknowledging: bytes == 0))
            bytes += message.count
            return message
        }.delivered
    }
    return (elapsed, bytes, delivered, target, targetStore)
}
var rounds: [(seconds: Double, bytes: Int, delivered: Int, target: Replica, store: EventStore)] = []
for round in 0..<3 {
    rounds.append(try syncOnce(round))
    if round < 2 { rounds[round].store.close() }
}
let best = rounds.min { $0.seconds < $1.seconds }!
let (target, targetStore) = (rounds[2].target, rounds[2].store)
let applyRate = Double(best.delivered) / best.seconds

// Baseline: the same events appended bare by the engine in batches of the same size.
let events = try targetStore.query(EventQuery(type: ReplicationEvent.op)).collect()
var bareSeconds = Double.infinity
for round in 0..<3 {
    let bare = try EventStore.open(at: freshDirectory("bare-\(round)"))
    bareSeconds = min(bareSeconds, try seconds {
        for start in stride(from: 0, to: events.count, by: SyncLimits.pageOperations) {
            let batch = events[start..<min(events.count, start + SyncLimits.pageOperations)]
            _ = try bare.appendBlocking(batch.map { NewEvent(type: $0.type, stream: $0.stream, data: $0.data, id: $0.id, hlc: $0.hlc, node: $0.node) })
        }
    })
    bare.close()
}
report("crdt_apply_via_sync", applyRate, "ops/s", vs: ("engine_batched_append_same_events", Double(events.count) / bareSeconds, "events/s"))
report("crdt_sync_\(count)_ops", best.seconds, "s")
report("crdt_sync_bytes_per_op", Double(best.bytes) / Double(best.delivered), "B/op")

// 2. Local writes, one durable commit each (what `kv put` does).
let localCount = min(count, 2_000)
let localSeconds = try seconds { for i in 0..<localCount { try target.put(map: "local", key: "k\(i)", value: .int(Int64(i))) } }
report("crdt_local_write", Double(localCount) / localSeconds, "ops/s")

// 3. Churn: every key rewritten, then deleted; collection once the peer acknowledged it all.
// The writer of the first part and the first two targets are silent from here on.
for silent in ["writer", "target-0", "target-1"] { try source.decommission(silent) }
let churn = min(count, 20_000)
for i in 0..<churn { try source.put(map: "churn", key: "c\(i)", value: .int(Int64(i))) }
for i in 0..<churn { try source.delete(map: "churn", key: "c\(i)") }
_ = try target.receive(try source.respond(to: target.syncRequest(), limit: SyncLimits.maximumOperations))
_ = try source.receive(try target.respond(to: source.syncRequest(), limit: SyncLimits.maximumOperations))
func stateBytes(_ r: Replica) throws -> Int { try ReplicatedStateProjection().encode(Tolerant(r.state())).bytes.count }
let stateBefore = try stateBytes(source), logBefore = try sourceStore.stats().bytesOnDisk
let collected = try source.collectGarbage()
let stateAfter = try stateBytes(source), logAfter = try sourceStore.stats().bytesOnDisk
report("crdt_state_bytes_before_gc", Double(stateBefore), "B")
report("crdt_state_bytes_after_gc", Double(stateAfter), "B", vs: ("before", Double(stateBefore), "B"))
report("crdt_log_bytes_before_gc", Double(logBefore), "B")
report("crdt_log_bytes_after_gc", Double(logAfter), "B", vs: ("before", Double(logBefore), "B"))
print("# collected \(collected?.tombstones ?? 0) tombstones, \(collected?.dots ?? 0) dots; the log is append-only (issue 17's retention trims it)")
sourceStore.close()
targetStore.close()
removeFreshDirectories()
