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
    // The same with Swift tasks calling the async `append`: the writer resumes continuations
    // instead of waking blocked threads.
    let perAppender = max(1, count / appenders)
    let elapsed = try await asyncSeconds {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for a in 0..<appenders {
                group.addTask {
                    for n in 0..<perAppender { _ = try await store.append([workload.events[(a * perAppender + n) % count]]) }
                }
            }
            try await group.waitForAll()
        }
    }
    print("group commit, \(appenders) tasks: \(Int(Double(appenders * perAppender) / elapsed)) events/s, \(store.metrics.transactions) transactions")
} else if appenders > 0 {
    let perAppender = max(1, count / appenders)
    let elapsed = seconds {
        let done = DispatchGroup()
        for a in 0..<appenders {
            done.enter()
            Thread {
                for n in 0..<perAppender { _ = try? store.appendBlocking([workload.events[(a * perAppender + n) % count]]) }
                done.leave()
            }.start()
        }
        done.wait()
    }
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
