import BenchWorkload
import EventStore
import Foundation
import Projections

// Issue 3's benchmarks: rebuilding `stats` from scratch beside a raw LMDB scan of the same
// store, state(at:) latency with snapshots every 10,000 events beside a full replay, and the
// peak anonymous memory of a rebuild against the length of the log.
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 1_000_000
let pointCount = Int(ProcessInfo.processInfo.environment["BENCH_POINTS"] ?? "") ?? 1_000
print("# projection benchmarks: \(count) events, \(pointCount) state(at:) points")

/// RssAnon of this process, in bytes, from /proc/self/status.
func rssAnon() -> Int {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("RssAnon:") {
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
    return 0
}

/// Samples RssAnon every millisecond on another thread while `body` runs; returns the peak.
func peakRssAnon(during body: () throws -> Void) rethrows -> Int {
    let peak = Mutex()
    nonisolated(unsafe) var highest = rssAnon()
    nonisolated(unsafe) var running = true
    let sampler = Thread {
        while peak.withLock({ running }) {
            let now = rssAnon()
            peak.withLock { highest = max(highest, now) }
            usleep(1000)
        }
    }
    sampler.start()
    try body()
    peak.withLock { running = false }
    return peak.withLock { max(highest, rssAnon()) }
}

// The store: the issue-2 workload, generated and appended in chunks so the generator's memory
// does not hide the rebuild's.
let dir = freshDirectory("projections")
var options = StoreOptions()
options.durability = .metaAsync
let store = try EventStore.open(at: dir, options: options)
var appended = 0
while appended < count {
    let chunk = Workload(count: min(10_000, count - appended), seed: UInt64(appended + 1), offset: appended).events
    var i = 0
    while i < chunk.count {
        _ = try store.appendBlocking(Array(chunk[i..<min(chunk.count, i + 5_000)]))
        i += 5_000
    }
    appended += chunk.count
}
_ = try store.reindex()
// The build's dirty pages are written back before anything is measured, so that writeback
// does not share the disk and the cores with the first measurement.
sync()
print("# store built: \(appended) events")

// 1. Rebuild `stats` from scratch (snapshots every 10,000 events on the way) beside the raw scan.
// The raw scan runs warm (its pages faulted in first), so the rebuild is reported warm too: the
// median of three, each dropping the last one's snapshots and checkpoint first. The first
// pass also fills the store's pooled buffers and name caches; each pass is printed.
let raw = RawLMDB(existing: dir, database: "events")
_ = raw.scan()  // fault the pages in, for both
let rawSeconds = seconds { _ = raw.scan() }
let stats = RegisteredProjection(StatsProjection())
var rebuilt = 0
var rebuildPasses: [Double] = []
let rebuildPeak = try peakRssAnon {
    rebuildPasses.append(try seconds { rebuilt = try stats.rebuild(in: store) })
}
for _ in 0..<2 { rebuildPasses.append(try seconds { rebuilt = try stats.rebuild(in: store) }) }
for (n, pass) in rebuildPasses.enumerated() { print("# stats rebuild pass \(n + 1): \(Int(Double(rebuilt) / pass)) events/s") }
let rebuildSeconds = rebuildPasses.sorted()[1]
report("stats_rebuild_from_scratch", Double(rebuilt) / rebuildSeconds, "events/s",
       vs: ("raw_lmdb_cursor_scan_same_store", Double(count) / rawSeconds, "events/s"))
var envelopes = 0
let envelopeSeconds = try seconds { try store.scan(fields: .envelope) { _ in envelopes += 1; return true } }
report("replay_scan_envelopes", Double(envelopes) / envelopeSeconds, "events/s",
       vs: ("raw_lmdb_cursor_scan_same_store", Double(count) / rawSeconds, "events/s"))

// 2. Peak RssAnon: the 1M rebuild beside a rebuild of the first tenth, from the same baseline.
let replay = Replay(store: store, projection: StatsProjection())
let tenthPeak = try peakRssAnon { _ = try replay.fromScratch(through: UInt64(count / 10)) }
let fullPeak = try peakRssAnon { _ = try replay.fromScratch(through: UInt64(count)) }
let mib = 1024.0 * 1024.0
report("rss_anon_peak_replay_full_log", Double(fullPeak) / mib, "MiB",
       vs: ("rss_anon_peak_replay_tenth_of_log", Double(tenthPeak) / mib, "MiB"))
report("rss_anon_peak_during_rebuild", Double(rebuildPeak) / mib, "MiB")

// 3. state(at:) at random points, snapshots every 10,000 events, beside a full replay.
var rng = SplitMix64(seed: 42)
let points = (0..<pointCount).map { _ in 1 + rng.next() % UInt64(count) }
var latencies: [Double] = []
for point in points { latencies.append(try seconds { _ = try replay.state(at: point) }) }
latencies.sort()
func percentile(_ sorted: [Double], _ p: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] }
let fullSample = points.prefix(20)
var fullLatencies: [Double] = []
for point in fullSample { fullLatencies.append(try seconds { _ = try replay.fromScratch(through: point) }) }
fullLatencies.sort()
report("state_at_p50", percentile(latencies, 0.5) * 1000, "ms", vs: ("full_replay_p50", percentile(fullLatencies, 0.5) * 1000, "ms"))
report("state_at_p99", percentile(latencies, 0.99) * 1000, "ms", vs: ("full_replay_p99", percentile(fullLatencies, 0.99) * 1000, "ms"))
print("# full replay measured at the first \(fullSample.count) of the points")
store.close()
try? FileManager.default.removeItem(atPath: dir)
