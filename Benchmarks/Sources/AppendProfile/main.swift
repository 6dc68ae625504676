import BenchWorkload
import EventStore
import Foundation

// Appends the issue-2 workload in durable batches of 1,000: a target for `perf record` on the
// append path.
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 200_000
let dir = freshDirectory("appendprofile")
defer { try? FileManager.default.removeItem(atPath: dir) }
let store = try EventStore.open(at: dir)
let workload = Workload(count: count)
var i = 0
let elapsed = try seconds {
    while i < count {
        _ = try store.appendBlocking(Array(workload.events[i..<min(count, i + 1000)]))
        i += 1000
    }
}
print("append_batched: \(Int(Double(count) / elapsed)) events/s")
store.close()
