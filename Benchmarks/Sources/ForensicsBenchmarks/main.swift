import BenchWorkload
import EventStore
import Foundation

// Issue 17's benchmarks, through a release recoveryctl (`make bench` builds it; RECOVERYCTL or
// ../.build/release/recoveryctl): timeline export of N events per format (events/s and the
// process's peak memory and heap), a backup beside `mdb_copy -c` on the same store (MB/s), a
// drill, and an archive of half the log beside exporting the same range.
let recoveryctl = ProcessInfo.processInfo.environment["RECOVERYCTL"] ?? FileManager.default.currentDirectoryPath + "/../.build/release/recoveryctl"
let count = Int(ProcessInfo.processInfo.environment["BENCH_EVENTS"] ?? "") ?? 1_000_000
print("# forensics benchmarks: \(count) events (recoveryctl: \(recoveryctl))")

func line(_ name: String, _ value: Double, _ unit: String, _ note: String = "") {
    print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%12.1f %@", value, unit) + (note.isEmpty ? "" : "  " + note))
}

/// Runs a command, sampling /proc/PID/status every 10 ms: seconds, peak resident memory (VmHWM,
/// which counts the pages of the memory-mapped store that were read) and peak anonymous memory
/// (RssAnon: the heap, what "constant memory" is about), both in KiB, and the exit status.
func timed(_ executable: String, _ arguments: [String]) throws -> (seconds: Double, peakKiB: Int, heapKiB: Int, status: Int32) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    let start = DispatchTime.now().uptimeNanoseconds
    try process.run()
    var peak = 0, heap = 0
    func field(_ text: String, _ name: String) -> Int {
        guard let row = text.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
        return Int(row.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? "") ?? 0
    }
    while process.isRunning {
        if let status = try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8) {
            peak = max(peak, field(status, "VmHWM"))
            heap = max(heap, field(status, "RssAnon"))
        }
        usleep(10_000)
    }
    process.waitUntilExit()
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    return (seconds, peak, heap, process.terminationStatus)
}

func memory(_ run: (seconds: Double, peakKiB: Int, heapKiB: Int, status: Int32)) -> String {
    String(format: "peak RSS %.0f MiB, heap (RssAnon) %.0f MiB, exit %d", Double(run.peakKiB) / 1024, Double(run.heapKiB) / 1024, run.status)
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

for format in ["jsonl", "csv", "html"] {
    let run = try timed(recoveryctl, ["timeline", "export", "--store", storePath, "--format", format, "-o", directory + "/timeline.\(format)"])
    line("timeline export --format \(format)", Double(count) / run.seconds, "events/s", memory(run))
}
// Constant memory: a tenth of the events through the same export.
let tenth = try timed(recoveryctl, ["timeline", "export", "--store", storePath, "--to-seq", "\(count / 10)", "--format", "jsonl", "-o", directory + "/tenth.jsonl"])
line("timeline export --format jsonl, first tenth", Double(count / 10) / tenth.seconds, "events/s", memory(tenth))
// mdb_copy writes into an existing directory.
try? FileManager.default.createDirectory(atPath: directory + "/mdb-copy", withIntermediateDirectories: true)
let baseline = try timed("/usr/bin/mdb_copy", ["-c", storePath, directory + "/mdb-copy"])
let backup = try timed(recoveryctl, ["backup", "--store", storePath, "--to", directory + "/backup"])
line("backup (mdb_env_copy2 compact + manifest + SHA-256)", megabytes / backup.seconds, "MB/s",
     String(format: "%.0f MB store; mdb_copy -c %.0f MB/s; exit %d", megabytes, megabytes / baseline.seconds, backup.status))
let drill = try timed(recoveryctl, ["drill", "--store", storePath])
line("drill (backup, restore, verify, rebuild, compare)", drill.seconds, "s", memory(drill))
// Retention of the first half, beside exporting the same range as JSONL (the segment's content).
let half = count / 2
let export = try timed(recoveryctl, ["query", "--store", storePath, "--to-seq", "\(half)", "--format", "jsonl", "-o", directory + "/half.jsonl"])
let archive = try timed(recoveryctl, ["archive", "--store", storePath, "--through-seq", "\(half)", "--to", directory + "/archive"])
line("archive --through-seq \(half)", Double(half) / archive.seconds, "events/s",
     String(format: "query --format jsonl of the same range %.0f events/s; %@", Double(half) / export.seconds, memory(archive)))
removeFreshDirectories()
