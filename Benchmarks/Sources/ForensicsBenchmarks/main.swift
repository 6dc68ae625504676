import BenchWorkload
import EventStore
import Foundation

// Issue 17's benchmarks, through a release recoveryctl (`make bench` builds it; RECOVERYCTL or
// ../.build/release/recoveryctl): timeline export of N events per format (events/s and the
// process's peak memory), a backup beside `mdb_copy -c` on the same store (MB/s), a drill.
let recoveryctl = ProcessInfo.processInfo.environment["RECOVERYCTL"] ?? FileManager.default.currentDirectoryPath + "/../.build/release/recoveryctl"
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 1_000_000
print("# forensics benchmarks: \(count) events (recoveryctl: \(recoveryctl))")

func line(_ name: String, _ value: Double, _ unit: String, _ note: String = "") {
    print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%12.1f %@", value, unit) + (note.isEmpty ? "" : "  " + note))
}

/// Runs a command under /usr/bin/time: seconds, peak resident memory (KiB), exit status.
func timed(_ executable: String, _ arguments: [String]) throws -> (seconds: Double, peakKiB: Int, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/time")
    process.arguments = ["-f", "%M"] + [executable] + arguments
    let errors = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    let start = DispatchTime.now().uptimeNanoseconds
    try process.run()
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    let peak = Int(text.split(separator: "\n").last.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "") ?? 0
    return (seconds, peak, process.terminationStatus)
}

// A store of healing-like events, ~1 KB each with the padding, appended in large batches.
let directory = freshDirectory("forensics")
let storePath = directory + "/store"
do {
    let store = try EventStore.open(at: storePath, options: StoreOptions())
    let pad = String(repeating: "p", count: 800)
    for start in stride(from: 0, to: count, by: 10_000) {
        _ = try store.appendBlocking((start..<min(count, start + 10_000)).map { i in
            NewEvent(type: i % 3 == 0 ? "action.started" : "symptom.detected", stream: "service/svc-\(i % 100)",
                     data: ["action": .string("act-\(i)"), "attempt": 1, "service": .string("svc-\(i % 100)"), "pad": .string(pad)],
                     correlation: "incident-\(i / 1_000)")
        })
    }
    store.close()
}
var bytes: UInt64 = 0
if let attributes = try? FileManager.default.attributesOfItem(atPath: storePath + "/data.mdb"), let size = attributes[.size] as? UInt64 { bytes = size }
let megabytes = Double(bytes) / 1_048_576

for format in ["jsonl", "csv"] {
    let run = try timed(recoveryctl, ["timeline", "export", "--store", storePath, "--format", format, "-o", directory + "/timeline.\(format)"])
    line("timeline export --format \(format)", Double(count) / run.seconds, "events/s", String(format: "peak RSS %.0f MiB, exit %d", Double(run.peakKiB) / 1024, run.status))
}
// mdb_copy writes into an existing directory.
try? FileManager.default.createDirectory(atPath: directory + "/mdb-copy", withIntermediateDirectories: true)
let baseline = try timed("/usr/bin/mdb_copy", ["-c", storePath, directory + "/mdb-copy"])
let backup = try timed(recoveryctl, ["backup", "--store", storePath, "--to", directory + "/backup"])
line("backup (mdb_env_copy2 compact + manifest + SHA-256)", megabytes / backup.seconds, "MB/s",
     String(format: "%.0f MB store; mdb_copy -c %.0f MB/s; exit %d", megabytes, megabytes / baseline.seconds, backup.status))
let drill = try timed(recoveryctl, ["drill", "--store", storePath])
line("drill (backup, restore, verify, rebuild, compare)", drill.seconds, "s", String(format: "exit %d, peak RSS %.0f MiB", drill.status, Double(drill.peakKiB) / 1024))
