import BenchWorkload
import EventStore
import Foundation
import Healing
import RecoveryEngine
import Replication
import Trust
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// Issue 16's benchmarks: rendering the exposition for 1,000 breakers, 100 services and 10,000
// certificates beside concatenating the same lines ready-made (the limit); /metrics requests
// per second from 32 concurrent scrapers while the store takes appends, beside /healthz on the
// same server; a sync of 10,000 operations over HTTP beside `sync pull` between directories.
// Needs a release recoveryctl (`make bench` builds it): RECOVERYCTL or ../.build/release/recoveryctl.
let recoveryctl = ProcessInfo.processInfo.environment["RECOVERYCTL"] ?? FileManager.default.currentDirectoryPath + "/../.build/release/recoveryctl"
print("# agent benchmarks (recoveryctl: \(recoveryctl))")

func line(_ name: String, _ value: Double, _ unit: String, _ note: String = "") {
    print(name.padding(toLength: 60, withPad: " ", startingAt: 0) + String(format: "%12.1f %@", value, unit) + (note.isEmpty ? "" : "  " + note))
}

// 1. Rendering.
var snapshot = MetricsSnapshot(nodeID: "node-1", replicaID: "r1", time: Timestamp(seconds: 1_800_000_000), headSeq: 1_000_000)
for i in 0..<1_000 { snapshot.breakers["service/svc-\(i % 100)/\(i)"] = BreakerState() }
for i in 0..<100 {
    for outcome in ["succeeded", "failed", "rejected"] { snapshot.counters.actions["scale|\(outcome)|svc-\(i)"] = UInt64(i) }
    snapshot.counters.symptoms["high_latency|svc-\(i)"] = UInt64(i)
}
for i in 0..<1_000 { snapshot.counters.breakerTransitions["service/svc-\(i % 100)/\(i)|open"] = 3 }
let verdictPayload: EventValue = ["spiffe_id": "spiffe://mesh.local/node/x", "serial": "0A", "sha256": "00", "not_before": "2026-01-01T00:00:00Z",
                                  "not_after": "2027-01-01T00:00:00Z", "verdict": "trusted", "reasons": [], "checks": ["chain": "ok"]]
let verdict = try CertificateVerdict(payload: verdictPayload)
for i in 0..<10_000 {
    var v = verdict
    v.spiffeID = "spiffe://mesh.local/node/n\(i)"
    v.serial = String(i, radix: 16)
    snapshot.certificates.bySPIFFEID[v.spiffeID] = CertificatesProjection.Latest(verdict: v, seq: UInt64(i), time: Timestamp(seconds: 1_800_000_000))
}
var rendered = ""
var renderSeconds = Double.infinity
for _ in 0..<5 { renderSeconds = min(renderSeconds, seconds { rendered = snapshot.render() }) }
let lines = rendered.split(separator: "\n").map(String.init)
var joined = ""
var joinSeconds = Double.infinity
for _ in 0..<5 { joinSeconds = min(joinSeconds, seconds { joined = lines.joined(separator: "\n") }) }
line("render exposition (1k breakers, 100 services, 10k certs)", renderSeconds * 1_000, "ms",
     "\(lines.count) lines, \(rendered.utf8.count) bytes; joining the same lines ready-made \(String(format: "%.1f", joinSeconds * 1_000)) ms")
_ = joined

// 2. /metrics under 32 concurrent scrapers while appending.
func run(_ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: recoveryctl)
    process.arguments = arguments
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// A `recoveryctl serve` on a free port; its base URL.
func serve(_ store: String) throws -> (Process, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: recoveryctl)
    process.arguments = ["serve", "--store", store, "--listen", "127.0.0.1:0"]
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    var text = ""
    while !text.contains("\n") {
        let chunk = output.fileHandleForReading.availableData
        if chunk.isEmpty { break }
        text += String(decoding: chunk, as: UTF8.self)
    }
    guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...].prefix { $0.isNumber }) else {
        fatalError("serve did not start: \(text)")
    }
    return (process, "http://127.0.0.1:\(port)")
}

/// Requests per second from `clients` threads getting `url` for `duration` seconds.
func hammer(_ url: String, clients: Int, duration: Double) -> (rate: Double, failed: Int) {
    let session = URLSession(configuration: .ephemeral)
    let counts = UnsafeCounters()
    let deadline = Date().addingTimeInterval(duration)
    DispatchQueue.concurrentPerform(iterations: clients) { _ in
        while Date() < deadline {
            let done = DispatchSemaphore(value: 0)
            session.dataTask(with: URL(string: url)!) { data, response, _ in
                counts.add(ok: (response as? HTTPURLResponse)?.statusCode == 200 && data != nil)
                done.signal()
            }.resume()
            done.wait()
        }
    }
    let (ok, failed) = counts.values
    return (Double(ok) / duration, failed)
}

final class UnsafeCounters: @unchecked Sendable {
    private let lock = NSLock()
    private var ok = 0, failed = 0
    func add(ok success: Bool) { lock.withLock { if success { ok += 1 } else { failed += 1 } } }
    var values: (Int, Int) { lock.withLock { (ok, failed) } }
}

let served = freshDirectory("agent-served") + "/store"
_ = try run(["demo", "--store", served])
let (server, base) = try serve(served)
let appender = try EventStore.open(at: served, options: StoreOptions())
let appending = Thread {
    var n = 0
    while !Thread.current.isCancelled {
        _ = try? appender.appendBlocking((0..<10).map { i in NewEvent(type: "bench.tick", stream: "bench/\(n % 100)", data: ["i": .int(Int64(n * 10 + i))]) })
        n += 1
    }
}
appending.start()
let headBefore = try appender.head().seq
let metricsLoad = hammer(base + "/metrics", clients: 32, duration: 5)
let healthLoad = hammer(base + "/healthz", clients: 32, duration: 5)
appending.cancel()
let appended = try appender.head().seq - headBefore
appender.close()
line("GET /metrics, 32 scrapers, while appending", metricsLoad.rate, "req/s",
     String(format: "%d failed; /healthz on the same server %.0f req/s; %llu events appended meanwhile", metricsLoad.failed, healthLoad.rate, appended))
server.terminate()
server.waitUntilExit()

// 3. Sync of 10,000 operations: over HTTP from a served store, and between directories.
let source = freshDirectory("agent-sync-source") + "/store"
do {
    var options = StoreOptions()
    options.replicaID = "source"
    let store = try EventStore.open(at: source, options: options)
    let writer = Replica(log: MemoryLog(replicaID: "writer", clock: SystemClock()))
    for i in 0..<10_000 { try writer.put(map: "m", key: "key-\(i)", value: .int(Int64(i))) }
    let replica = Replica(log: try StoreLog(store: store))
    try replica.pull { request in SyncCoding.encode(try writer.respond(to: request)) }
    store.close()
}
let (sourceServer, sourceURL) = try serve(source)
var httpSeconds = Double.infinity, directorySeconds = Double.infinity
for round in 0..<3 {
    let overHTTP = freshDirectory("agent-sync-http-\(round)") + "/store"
    httpSeconds = min(httpSeconds, try seconds { _ = try run(["sync", "pull", "--from", sourceURL, "--store", overHTTP]) })
    let overDirectory = freshDirectory("agent-sync-dir-\(round)") + "/store"
    directorySeconds = min(directorySeconds, try seconds { _ = try run(["sync", "pull", "--from", source, "--store", overDirectory]) })
}
sourceServer.terminate()
sourceServer.waitUntilExit()
line("sync pull of 10,000 ops over HTTP (a served peer)", httpSeconds * 1_000, "ms",
     String(format: "sync pull between directories %.0f ms (%.2fx)", directorySeconds * 1_000, httpSeconds / directorySeconds))
