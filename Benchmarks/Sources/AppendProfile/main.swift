import BenchWorkload
import EventStore
import Foundation

// Appends the issue-2 workload in durable batches of 1,000, or with `APPENDERS=N` as N threads
// appending one event per call (group commit): a target for `perf record` on the append path.
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 200_000
let appenders = Int(ProcessInfo.processInfo.environment["APPENDERS"] ?? "") ?? 0
let dir = freshDirectory("appendprofile")
defer { try? FileManager.default.removeItem(atPath: dir) }
let store = try EventStore.open(at: dir)
let workload = Workload(count: count)
if appenders > 0, ProcessInfo.processInfo.environment["TASKS"] != nil {
    let perAppender = max(1, count / appenders)
    let elapsed = try await appendFromTasks(store, workload.events, appenders: appenders, perAppender: perAppender)
    print("group commit, \(appenders) tasks: \(Int(Double(appenders * perAppender) / elapsed)) events/s, \(store.metrics.transactions) transactions")
} else if appenders > 0 {
    let perAppender = max(1, count / appenders)
    let elapsed = appendFromThreads(store, workload.events, appenders: appenders, perAppender: perAppender)
    print("group commit, \(appenders) appenders: \(Int(Double(appenders * perAppender) / elapsed)) events/s, \(store.metrics.transactions) transactions")
} else {
    var i = 0
    let elapsed = try seconds {
        while i < count {
            _ = try store.appendBlocking(Array(workload.events[i..<min(count, i + 1000)]))
            i += 1000
        }
    }
    print("append_batched: \(Int(Double(count) / elapsed)) events/s")
}
store.close()
