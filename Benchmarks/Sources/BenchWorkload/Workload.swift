import EventStore
import Foundation

/// The workload of issue 2: events with ~150-byte payloads spread at random over 2,000 streams,
/// 12 types and 50 nodes.
public struct Workload: Sendable {
    public let events: [NewEvent]

    /// Events `offset ..< offset + count` of the workload (`offset` shifts names and times, so
    /// a large log can be generated in chunks).
    public init(count: Int, seed: UInt64 = 1, offset: Int = 0) {
        var rng = SplitMix64(seed: seed)
        let types = ["symptom.detected", "symptom.cleared", "action.planned", "action.started", "action.succeeded",
                     "action.failed", "action.rejected", "breaker.transitioned", "ratelimit.throttled", "mapek.cycle",
                     "crdt.op", "cert.verdict"]
        let start = Timestamp(seconds: 1_795_000_000)
        events = (offset..<offset + count).map { n in
            let node = "node-\(rng.next() % 50)"
            var e = NewEvent(type: types[Int(rng.next() % 12)], stream: "service/s-\(rng.next() % 2000)",
                             data: ["action": .string("a-\(n)"), "target": .string("route/api-\(rng.next() % 100)"),
                                    "reason": .string("latency above threshold on \(node)"), "attempt": .int(Int64(rng.next() % 5)),
                                    "duration_ms": .double(Double(rng.next() % 100_000) / 100), "retryable": .bool(rng.next() % 2 == 0),
                                    "error": .string("upstream timeout after 3 retries")],
                             tags: ["service": "svc-\(rng.next() % 20)"])
            e.node = node
            e.time = start.adding(nanoseconds: Int64(n) * 1_000_000)
            return e
        }
    }
}


public func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

public func asyncSeconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try await body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

public func freshDirectory(_ name: String) -> String {
    let path = FileManager.default.temporaryDirectory.path + "/recovery-bench-\(name)-\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    freshDirectories.append(path)
    return path
}

nonisolated(unsafe) private var freshDirectories: [String] = []

/// Removes every directory `freshDirectory` made in this process (stores must be closed).
public func removeFreshDirectories() {
    for path in freshDirectories { try? FileManager.default.removeItem(atPath: path) }
    freshDirectories.removeAll()
}

/// One result line: `bench <name> <value> <unit> vs <baseline> <value> <unit> ratio <r>`.
public func report(_ name: String, _ value: Double, _ unit: String, vs baseline: (String, Double, String)? = nil) {
    var line = "bench \(name) \(format(value)) \(unit)"
    if let (baseName, baseValue, baseUnit) = baseline {
        line += " vs \(baseName) \(format(baseValue)) \(baseUnit) ratio \(format(value / baseValue))"
    }
    results.append(line)
    print(line)
    fflush(nil)
}

nonisolated(unsafe) public var results: [String] = []

public func format(_ v: Double) -> String {
    guard v.isFinite else { return v.isNaN ? "nan" : "inf" }
    if v >= 100 { return String(Int(v.rounded())) }
    return String(format: "%.3f", v)
}
