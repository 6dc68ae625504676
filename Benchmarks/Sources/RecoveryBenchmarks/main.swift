import EventStore
import BenchWorkload
import Foundation

// Issue 2's benchmarks, every figure beside its baseline from the same run.
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 1_000_000
let batch = 1000
print("# RecoveryEngine benchmarks: \(count) events, batches of \(batch), durable commits")
let workload = Workload(count: count)

// 1. Batched append through EventStore (indexes built by the writer as it goes).
let storeDir = freshDirectory("store")
let store = try EventStore.open(at: storeDir)
var i = 0
let appendSeconds = try seconds {
    while i < count {
        _ = try store.appendBlocking(Array(workload.events[i..<min(count, i + batch)]))
        i += batch
    }
}
let lastAppend = DispatchTime.now().uptimeNanoseconds
// A query issued right after the last append is exact: it reads the index, then scans the tail.
let probeType = workload.events[0].type
let expectedMatches = workload.events.filter { $0.type == probeType }.count
var matches = 0
let querySeconds = try seconds { matches = try store.query(EventQuery(type: probeType)).collect().count }
let checkpointAtQuery = try store.indexCheckpoint()
while try store.indexCheckpoint() < UInt64(count) { usleep(1000) }
let catchUpSeconds = Double(DispatchTime.now().uptimeNanoseconds - lastAppend) / 1e9
let storeRate = Double(count) / appendSeconds

// The same record bytes and index keys, for the baselines.
let raw = RawLMDB(existing: storeDir, database: "events").records()
var keys: [IndexKeys] = []
var streams: [String] = [], types: [String] = [], nodes: [String] = []
keys.reserveCapacity(count)
var decoded = 0
let decodeSeconds = try seconds {
    try store.read().forEach { e in
        decoded += 1
        keys.append(IndexKeys(stream: Array(e.stream.utf8), version: e.version, type: Array(e.type.utf8),
                              node: Array(e.node.utf8), time: UInt64(bitPattern: e.time.nanoseconds)))
        streams.append(e.stream); types.append(e.type); nodes.append(e.node)
    }
}

let plainDir = freshDirectory("raw")
let plain = RawLMDB(path: plainDir, indexed: false)
let rawSeconds = seconds { plain.append(raw, keys: keys, batch: batch) }
let naiveDir = freshDirectory("naive")
let naive = RawLMDB(path: naiveDir, indexed: true)
let naiveSeconds = seconds { naive.append(raw, keys: keys, batch: batch) }
let sqliteDir = freshDirectory("sqlite")
let sqlite = SQLiteBaseline(path: sqliteDir)
let sqliteSeconds = seconds { sqlite.append(raw, keys: keys, streams: streams, types: types, nodes: nodes, batch: batch) }
let rawRate = Double(count) / rawSeconds
report("append_batched", storeRate, "events/s", vs: ("raw_lmdb_append_no_index", rawRate, "events/s"))
report("append_batched", storeRate, "events/s", vs: ("raw_lmdb_4_indexes_in_txn", Double(count) / naiveSeconds, "events/s"))
report("append_batched", storeRate, "events/s", vs: ("sqlite_wal_full_4_indexes", Double(count) / sqliteSeconds, "events/s"))
report("index_catch_up_after_last_append", catchUpSeconds, "s")
report("query_right_after_last_append", querySeconds * 1000, "ms")
print("# that query returned \(matches) events, expected \(expectedMatches) (exact: \(matches == expectedMatches)); index checkpoint then \(checkpointAtQuery)")

// 2. Scans, warm (the first pass above also faulted the pages in).
var scanned = 0
let warmDecodeSeconds = try seconds { try store.read().forEach { _ in scanned += 1 } }
let rawScanSeconds = seconds { _ = plain.scan() }
print("# first (cold) decode pass: \(format(Double(decoded) / decodeSeconds)) events/s")
report("scan_decode", Double(scanned) / warmDecodeSeconds, "events/s", vs: ("raw_lmdb_cursor_scan", Double(count) / rawScanSeconds, "events/s"))
var replayed = 0
let replaySeconds = try seconds { try store.scan { _ in replayed += 1; return true } }
report("replay_scan_full_events", Double(replayed) / replaySeconds, "events/s", vs: ("raw_lmdb_cursor_scan", Double(count) / rawScanSeconds, "events/s"))
replayed = 0
let envelopeSeconds = try seconds { try store.scan(fields: .envelope) { _ in replayed += 1; return true } }
report("replay_scan_envelopes", Double(replayed) / envelopeSeconds, "events/s", vs: ("raw_lmdb_cursor_scan", Double(count) / rawScanSeconds, "events/s"))
// The envelopes again, read in place (`RecordView`: every envelope field parsed and its names
// checked, no `Event` built), on this thread and in parallel chunks.
replayed = 0
let inPlaceSeconds = try seconds { try store.scanRecords { run in replayed += run.count; return true } }
report("replay_scan_records_in_place", Double(replayed) / inPlaceSeconds, "events/s", vs: ("raw_lmdb_cursor_scan", Double(count) / rawScanSeconds, "events/s"))
// The median of three passes: the first also sizes the store's pooled chunk buffers.
var parallelPasses: [Double] = []
for _ in 0..<3 {
    replayed = 0
    let elapsed = try seconds { try store.scanRecordsInParallel { run in replayed += run.count; return true } }
    parallelPasses.append(elapsed)
    print("# records in place, parallel chunks: \(format(Double(replayed) / elapsed)) events/s")
}
let inPlaceParallelSeconds = parallelPasses.sorted()[1]
report("replay_scan_records_in_place_parallel", Double(replayed) / inPlaceParallelSeconds, "events/s", vs: ("raw_lmdb_cursor_scan", Double(count) / rawScanSeconds, "events/s"))

// 3. A 1,000-event time-range query (events are 1 ms apart).
let since = workload.events[count / 2].time!
var rangeTimes: [Double] = []
var rangeCount = 0
for _ in 0..<20 {
    rangeTimes.append(try seconds { rangeCount = try store.query(EventQuery(since: since, until: since.adding(nanoseconds: 1_000_000_000))).collect().count })
}
rangeTimes.sort()
report("time_range_query_1000", rangeTimes[10] * 1000, "ms")
print("# the time-range query returned \(rangeCount) events")

// 4. Bytes on disk per event.
func fileBytes(_ path: String) -> Double {
    var st = stat()
    return stat(path, &st) == 0 ? Double(st.st_blocks) * 512 : 0
}
let storeBytes = Double(try store.stats().bytesOnDisk)
report("bytes_per_event", storeBytes / Double(count), "bytes", vs: ("raw_lmdb_no_index", fileBytes(plainDir + "/data.mdb") / Double(count), "bytes"))
report("bytes_per_event", storeBytes / Double(count), "bytes", vs: ("sqlite_wal_full_4_indexes", (fileBytes(sqliteDir + "/events.sqlite") + fileBytes(sqliteDir + "/events.sqlite-wal")) / Double(count), "bytes"))
store.close()

// 5. Group commit: concurrent single-event appenders vs raw one-record durable transactions.
let oneDir = freshDirectory("one")
let one = RawLMDB(path: oneDir, indexed: false)
let oneRecords = Array(raw.prefix(500))
let oneSeconds = seconds { one.append(oneRecords, keys: [], batch: 1) }
let oneRate = Double(oneRecords.count) / oneSeconds
for appenders in [1, 8, 64] {
    let dir = freshDirectory("group\(appenders)")
    let groupStore = try EventStore.open(at: dir)
    let perAppender = max(20, 4000 / appenders)
    let elapsed = appendFromThreads(groupStore, workload.events, appenders: appenders, perAppender: perAppender)
    let rate = Double(appenders * perAppender) / elapsed
    report("group_commit_\(appenders)_appenders", rate, "events/s", vs: ("raw_lmdb_one_record_durable_txn", oneRate, "events/s"))
    groupStore.close()
    try? FileManager.default.removeItem(atPath: dir)
}

// The same 64 appenders as Swift tasks calling the async `append` (what an agent built on Swift
// concurrency does): the writer resumes continuations instead of waking 64 blocked threads.
do {
    let dir = freshDirectory("grouptasks")
    let groupStore = try EventStore.open(at: dir)
    let appenders = 64, perAppender = max(20, 4000 / 64)
    let elapsed = try await appendFromTasks(groupStore, workload.events, appenders: appenders, perAppender: perAppender)
    report("group_commit_64_tasks", Double(appenders * perAppender) / elapsed, "events/s", vs: ("raw_lmdb_one_record_durable_txn", oneRate, "events/s"))
    groupStore.close()
    try? FileManager.default.removeItem(atPath: dir)
}

for dir in [storeDir, plainDir, naiveDir, sqliteDir, oneDir] { try? FileManager.default.removeItem(atPath: dir) }
print("# summary")
for line in results { print(line) }
