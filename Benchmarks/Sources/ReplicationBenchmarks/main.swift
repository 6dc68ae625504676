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

// 3. Churn, on two fresh replicas: every key written, then deleted; collection once the peer
// acknowledged it all. pycrdt's peer figure is the document's encoded size after the deletes.
let churn = min(count, 20_000)
let (churnA, churnStoreA) = try replica("churn-a"), (churnB, churnStoreB) = try replica("churn-b")
try churnA.put(map: "churn", key: "seed", value: 0)
_ = try churnB.pull { SyncCoding.encode(try churnA.respond(to: $0)) }
for i in 0..<churn { try churnA.put(map: "churn", key: "c\(i)", value: .int(Int64(i))) }
for i in 0..<churn { try churnA.delete(map: "churn", key: "c\(i)") }
_ = try churnB.pull { SyncCoding.encode(try churnA.respond(to: $0)) }
_ = try churnA.pull { SyncCoding.encode(try churnB.respond(to: $0)) }
func stateBytes(_ r: Replica) throws -> Int { try ReplicatedStateProjection().encode(Tolerant(r.state())).bytes.count }
let stateBefore = try stateBytes(churnA), logBefore = try churnStoreA.stats().bytesOnDisk
let collected = try churnA.collectGarbage()
let stateAfter = try stateBytes(churnA), logAfter = try churnStoreA.stats().bytesOnDisk
report("crdt_churn_state_bytes_before_gc", Double(stateBefore), "B")
report("crdt_churn_state_bytes_after_gc", Double(stateAfter), "B", vs: ("before", Double(stateBefore), "B"))
report("crdt_churn_log_bytes_before_gc", Double(logBefore), "B")
report("crdt_churn_log_bytes_after_gc", Double(logAfter), "B", vs: ("before", Double(logBefore), "B"))
print("# \(churn) keys written and deleted: collected \(collected?.tombstones ?? 0) tombstones, \(collected?.dots ?? 0) dots; the log is append-only (issue 17's retention trims it)")
churnStoreA.close()
churnStoreB.close()
sourceStore.close()
targetStore.close()
removeFreshDirectories()
