import EventStore
import BenchWorkload
import Foundation
import Projections

// Builds a store once, then scans it repeatedly: a target for `perf record` on the replay path.
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 200_000
// `SCAN_STORE=DIR` keeps the store in DIR and reuses it on the next run, so that a profiler
// sees the scans without the build.
let kept = ProcessInfo.processInfo.environment["SCAN_STORE"]
let dir = kept ?? NSTemporaryDirectory() + "scanprofile-\(getpid())"
let reused = kept.map { FileManager.default.fileExists(atPath: $0) } ?? false
defer { if kept == nil { try? FileManager.default.removeItem(atPath: dir) } }
var options = StoreOptions()
options.durability = .metaAsync
let store = try EventStore.open(at: dir, options: options)
if !reused {
    let workload = Workload(count: count)
    var i = 0
    while i < count {
        _ = try store.appendBlocking(Array(workload.events[i..<min(count, i + 5000)]))
        i += 5000
    }
    _ = try store.reindex()
}
// `IN_PLACE_ONLY=N`: only N in-place scans, for a profiler.
if let loops = Int(ProcessInfo.processInfo.environment["IN_PLACE_ONLY"] ?? "") {
    var n = 0
    for _ in 0..<loops { try store.scanRecords { run in n += run.count; return true } }
    print("records in place: \(n)")
    exit(0)
}
// `FULL_ONLY=N`: only N scans of full events (payloads decoded), for a profiler.
if let loops = Int(ProcessInfo.processInfo.environment["FULL_ONLY"] ?? "") {
    var n = 0
    for _ in 0..<loops { try store.scan(fields: .all) { _ in n += 1; return true } }
    print("full events: \(n)")
    exit(0)
}
// `QUERY_ONLY=N`: only N type queries (full events through the type index), for a profiler.
if let loops = Int(ProcessInfo.processInfo.environment["QUERY_ONLY"] ?? "") {
    var n = 0
    let elapsed = try seconds { for _ in 0..<loops { n += try store.query(EventQuery(type: "action.planned")).collect().count } }
    print("type query: \(n / loops) events, \(Int(Double(n) / elapsed)) events/s")
    exit(0)
}
// `IN_PLACE_STATS=N`: only N parallel in-place `stats` replays, for a profiler.
if let loops = Int(ProcessInfo.processInfo.environment["IN_PLACE_STATS"] ?? "") {
    let projection = StatsProjection()
    var state = projection.initialState
    for _ in 0..<loops { try store.scanRecordsInParallel(runLength: 4_096) { projection.apply($0, to: &state); return true } }
    print("stats in place: \(state.events)")
    exit(0)
}
// `ENCODE_ONLY=N`: only N encodings of the `stats` state after the whole log, for a profiler.
if let loops = Int(ProcessInfo.processInfo.environment["ENCODE_ONLY"] ?? "") {
    let projection = StatsProjection()
    var state = projection.initialState
    try store.scanRecords { projection.apply($0, to: &state); return true }
    var bytes = 0
    let elapsed = try seconds { for _ in 0..<loops { bytes = try projection.encode(state).bytes.count } }
    print("encode one stats snapshot (\(bytes) bytes): \(String(format: "%.3f", elapsed / Double(max(1, loops)) * 1000)) ms")
    exit(0)
}
// `STATE_AT=N`: only `stats` states at N random points (after a rebuild has left snapshots every
// 10,000 events), with their p50 and p99 latency.
if let points = Int(ProcessInfo.processInfo.environment["STATE_AT"] ?? "") {
    if try store.snapshots(name: "stats").isEmpty { _ = try RegisteredProjection(StatsProjection()).rebuild(in: store) }
    let replay = Replay(store: store, projection: StatsProjection())
    let head = try store.head().seq
    var rng = SplitMix64(seed: 42)
    var latencies: [Double] = []
    for _ in 0..<points {
        let point = 1 + rng.next() % head
        latencies.append(try seconds { _ = try replay.state(at: point) })
    }
    latencies.sort()
    let p50 = latencies[latencies.count / 2] * 1000, p99 = latencies[min(latencies.count - 1, latencies.count * 99 / 100)] * 1000
    print("state(at:) at \(points) points: p50 \(String(format: "%.3f", p50)) ms, p99 \(String(format: "%.3f", p99)) ms")
    exit(0)
}
// `REBUILD_ONLY=N`: only N `stats` rebuilds (snapshots every 10,000 events), for a profiler.
if let loops = Int(ProcessInfo.processInfo.environment["REBUILD_ONLY"] ?? "") {
    for _ in 0..<loops {
        let elapsed = try seconds { _ = try RegisteredProjection(StatsProjection()).rebuild(in: store) }
        print("stats rebuild: \(Int(Double(count) / elapsed)) events/s")
    }
    exit(0)
}
for payload in [false, true] {
    for _ in 0..<(Int(ProcessInfo.processInfo.environment["SCAN_LOOPS"] ?? "") ?? 3) {
        var n = 0
        let start = DispatchTime.now().uptimeNanoseconds
        try store.scan(fields: payload ? .all : .envelope) { _ in n += 1; return true }
        let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("payload \(payload): \(Int(Double(n) / s)) events/s")
    }
}
for chunk in [1_024, 4_096, 16_384] {
    var n = 0
    let parallelSeconds = try seconds { try store.scanInParallel(fields: .envelope, chunkSize: chunk) { _ in n += 1; return true } }
    print("parallel scan, chunks of \(chunk): \(Int(Double(n) / parallelSeconds)) events/s")
}
for _ in 0..<3 {
    var n = 0
    let inPlaceSeconds = try seconds { try store.scanRecords { run in n += run.count; return true } }
    print("records in place: \(Int(Double(n) / inPlaceSeconds)) events/s")
    n = 0
    let parallelSeconds = try seconds { try store.scanRecordsInParallel { run in n += run.count; return true } }
    print("records in place, parallel chunks: \(Int(Double(n) / parallelSeconds)) events/s")
}
// Where a stats rebuild spends its time: replay alone, snapshot encoding, snapshot commits.
let projection = StatsProjection()
var state = projection.initialState
let replaySeconds = try seconds { try store.scan(fields: .envelope) { projection.apply($0, to: &state); return true } }
print("stats replay without snapshots: \(Int(Double(count) / replaySeconds)) events/s")
for _ in 0..<3 {
    var inPlaceState = projection.initialState
    let inPlaceSeconds = try seconds { try store.scanRecords { projection.apply($0, to: &inPlaceState); return true } }
    print("stats replay in place, without snapshots: \(Int(Double(count) / inPlaceSeconds)) events/s")
    inPlaceState = projection.initialState
    let parallelSeconds = try seconds { try store.scanRecordsInParallel(runLength: 4_096) { projection.apply($0, to: &inPlaceState); return true } }
    print("stats replay in place, parallel chunks, without snapshots: \(Int(Double(count) / parallelSeconds)) events/s")
}
var encoded: EncodedState?
let encodeSeconds = try seconds { for _ in 0..<10 { encoded = try projection.encode(state) } }
print("encode one stats snapshot (\(encoded?.bytes.count ?? 0) bytes): \(String(format: "%.2f", encodeSeconds / 10 * 1000)) ms")
let decodeSeconds = try seconds { for _ in 0..<10 { _ = try projection.decode(encoded?.bytes ?? []) } }
print("decode one stats snapshot: \(String(format: "%.2f", decodeSeconds / 10 * 1000)) ms")
let saveSeconds = try seconds { for n in 0..<10 { try store.saveSnapshot(name: "probe", version: 1, seq: UInt64(n + 1), state: encoded?.bytes ?? []) } }
print("save one snapshot (commit): \(String(format: "%.2f", saveSeconds / 10 * 1000)) ms")
store.close()

// The store again, for the comparisons below.
let reopened = try EventStore.open(at: dir, options: options)
defer { reopened.close() }

// A replay of the worst gap state(at:) meets with snapshots every 10,000 events (9,999
// events), sequential beside parallel decoding with several chunk sizes, interleaved so that
// the machine's noise falls on all of them alike.
do {
    var timings: [Int: [Double]] = [:]
    let gaps = (0..<UInt64(max(1, count / 10_000 - 1))).map { $0 * 10_000 + 1 }
    for round in 0..<3 {
        for low in gaps {
            for chunk in [0, 1_250, 2_500, 5_000] {
                var state = projection.initialState
                let elapsed = try seconds {
                    if chunk == 0 {
                        try reopened.scan(from: low, through: low + 9_998, fields: .envelope) { projection.apply($0, to: &state); return true }
                    } else {
                        try reopened.scanInParallel(from: low, through: low + 9_998, fields: .envelope, chunkSize: chunk) { projection.apply($0, to: &state); return true }
                    }
                }
                if round > 0 { timings[chunk, default: []].append(elapsed) }
            }
        }
    }
    for (chunk, values) in timings.sorted(by: { $0.key < $1.key }) {
        let sorted = values.sorted()
        print("gap of 9,999 events, \(chunk == 0 ? "sequential" : "parallel chunks of \(chunk)"): median \(String(format: "%.2f", sorted[sorted.count / 2] * 1000)) ms, p90 \(String(format: "%.2f", sorted[sorted.count * 9 / 10] * 1000)) ms")
    }
}

// A `stats` rebuild with runs of events (the projection's own `apply(_:to:)` for runs) beside
// the same projection applied one event at a time, alternated so noise falls on both alike.
struct OneByOneStats: Projection {
    let inner = StatsProjection()
    var name: String { "stats-one-by-one" }
    var version: UInt32 { 1 }
    var initialState: StatsProjection.State { inner.initialState }
    var fields: EventFields { inner.fields }
    func apply(_ event: Event, to state: inout StatsProjection.State) { inner.apply(event, to: &state) }
}
do {
    var runs: [Double] = [], singles: [Double] = []
    for _ in 0..<3 {
        runs.append(try seconds { _ = try RegisteredProjection(StatsProjection()).rebuild(in: reopened) })
        singles.append(try seconds { _ = try RegisteredProjection(OneByOneStats()).rebuild(in: reopened) })
    }
    print("stats rebuild, runs: \(Int(Double(count) / (runs.min() ?? 1))) events/s; one by one: \(Int(Double(count) / (singles.min() ?? 1))) events/s")
}
