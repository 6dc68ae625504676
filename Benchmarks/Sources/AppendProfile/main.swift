import BenchWorkload
import EventStore
import Foundation

// Appends the issue-2 workload in durable batches of 1,000, or with `APPENDERS=N` as N threads
// appending one event per call (group commit): a target for `perf record` on the append path.
// `RAW=1` then appends the same record bytes through raw LMDB with no index, for the ratio;
// `NO_INDEXER=1`, `INDEX_BATCH=N` and `MAX_LAG=N` vary the indexer; `REINDEX=1` (with
// `NO_INDEXER=1`) then times indexing the whole log.
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 200_000
let appenders = Int(ProcessInfo.processInfo.environment["APPENDERS"] ?? "") ?? 0
let dir = freshDirectory("appendprofile")
defer { try? FileManager.default.removeItem(atPath: dir) }
var storeOptions = StoreOptions()
storeOptions.indexesInBackground = ProcessInfo.processInfo.environment["NO_INDEXER"] == nil
if let size = Int(ProcessInfo.processInfo.environment["INDEX_BATCH"] ?? "") { storeOptions.indexBatchSize = size }
if let lag = Int(ProcessInfo.processInfo.environment["MAX_LAG"] ?? "") { storeOptions.maximumIndexLag = lag }
let store = try EventStore.open(at: dir, options: storeOptions)
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
    if ProcessInfo.processInfo.environment["REINDEX"] != nil {
        // With `NO_INDEXER=1`: the whole log indexed at once, in the indexer's batches.
        let indexSeconds = try seconds { _ = try store.reindex() }
        print("reindex: \(Int(Double(count) / indexSeconds)) events/s")
    }
    if ProcessInfo.processInfo.environment["RAW"] != nil {
        // The same record bytes through raw LMDB with no index, in this spell: the ratio's baseline.
        let records = RawLMDB(existing: dir, database: "events").records()
        let rawDir = freshDirectory("appendprofile-raw")
        defer { try? FileManager.default.removeItem(atPath: rawDir) }
        let raw = RawLMDB(path: rawDir, indexed: false)
        let rawSeconds = seconds { raw.append(records, keys: [], batch: 1000) }
        print("raw_lmdb_append_no_index: \(Int(Double(count) / rawSeconds)) events/s, ratio \(format(rawSeconds / elapsed))")
    }
}
store.close()
