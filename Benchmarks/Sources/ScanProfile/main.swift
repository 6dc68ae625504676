import EventStore
import BenchWorkload
import Foundation

// Builds a store once, then scans it repeatedly: a target for `perf record` on the replay path.
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 200_000
let dir = NSTemporaryDirectory() + "scanprofile-\(getpid())"
defer { try? FileManager.default.removeItem(atPath: dir) }
var options = StoreOptions()
options.durability = .metaAsync
let store = try EventStore.open(at: dir, options: options)
let workload = Workload(count: count)
var i = 0
while i < count {
    _ = try store.appendBlocking(Array(workload.events[i..<min(count, i + 5000)]))
    i += 5000
}
_ = try store.reindex()
for payload in [false] {
    for _ in 0..<(Int(ProcessInfo.processInfo.environment["SCAN_LOOPS"] ?? "") ?? 3) {
        var n = 0
        let start = DispatchTime.now().uptimeNanoseconds
        try store.scan(fields: payload ? .all : .envelope) { _ in n += 1; return true }
        let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        print("payload \(payload): \(Int(Double(n) / s)) events/s")
    }
}
store.close()
