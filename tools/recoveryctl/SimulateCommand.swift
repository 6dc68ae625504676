import ArgumentParser
import Dispatch
import EventStore
import Foundation
import MeshSimulation

/// `recoveryctl simulate`: seeded incidents with faults on real stores, every invariant checked
/// after each seed.
struct SimulateCommand: AsyncRun {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run seeded incidents with injected faults on real stores and check the engine's invariants.",
        discussion: """
        Each seed drives the healing loop over a simulated mesh with faults chosen by the seed \
        (actuator failures, timeouts and slow calls, clock jumps, kills and restarts, a full disk, \
        failing commits, malformed imports), then checks: no acknowledged event lost, the store \
        verifies, replays equal folds, no limiter over quota, no action through an open breaker, \
        rollback restores its target. A failing seed prints the command that reproduces it; exit 1.
        """)

    @Option(help: "A seed (7) or an inclusive range (1-1000).") var seeds: String = "1-100"
    @Option(help: "MAPE-K cycles per seed.") var cycles: Int = 14
    @Flag(help: "Keep every seed's store (else only failing seeds' stores are kept).") var keep = false
    @Option(help: "Where stores are made (default: a temporary directory).") var directory: String?
    @Option(help: "Seeds run at once (each on its own store; commits wait on the disk, so more than the cores pay).") var jobs: Int = 4

    func validate() throws {
        guard let range = SeedRange(seeds) else { throw ValidationError("--seeds must be N or A-B with A <= B, not '\(seeds)'") }
        if range.count > 10_000_000 { throw ValidationError("--seeds covers \(range.count) seeds; at most 10000000 per run") }
        if !(1...1_000).contains(cycles) { throw ValidationError("--cycles must be between 1 and 1000") }
        if !(1...64).contains(jobs) { throw ValidationError("--jobs must be between 1 and 64") }
    }

    func runAsync() async throws {
        guard let range = SeedRange(seeds) else { throw CLIFailure.usage("bad --seeds") }
        let root = try directory ?? makeTemporaryDirectory()
        let started = DispatchTime.now().uptimeNanoseconds
        var failed: [SeedReport] = []
        var faults: [Fault: Int] = [:]
        var events: UInt64 = 0
        // Seeds run `jobs` at a time; reports are taken in seed order, so output is the same
        // however the runs interleave.
        try await withThrowingTaskGroup(of: (UInt64, SeedReport).self) { group in
            var next = range.lower
            var done: [UInt64: SeedReport] = [:]
            var reported = range.lower
            func launch() throws {
                guard next <= range.upper else { return }
                let seed = next
                next += 1
                let folder = root + "/seed-\(seed)"
                try? FileManager.default.removeItem(atPath: folder)
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let simulator = Simulator(seed: seed, cycles: cycles)
                group.addTask { (seed, await simulator.run(in: folder)) }
            }
            for _ in 0..<jobs { try launch() }
            while let (seed, report) = try await group.next() {
                done[seed] = report
                try launch()
                while let report = done.removeValue(forKey: reported) {
                    let folder = root + "/seed-\(report.seed)"
                    faults.merge(report.faults) { $0 + $1 }
                    events += report.events
                    if let failure = report.failure {
                        failed.append(report)
                        print("seed \(report.seed) FAILED after \(report.cycles) cycles: \(failure)")
                        print("  reproduce: \(Simulator(seed: report.seed, cycles: cycles).reproduction)  (store kept in \(folder)/store)")
                    } else if !keep {
                        try? FileManager.default.removeItem(atPath: folder)
                    }
                    reported += 1
                }
            }
        }
        if directory == nil && !keep && failed.isEmpty { try? FileManager.default.removeItem(atPath: root) }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        let count = range.count
        print(String(format: "%d seeds, %d cycles each, in %.1f s: %.1f seeds/s, %llu events", count, cycles, seconds, Double(count) / seconds, events))
        print("faults: " + Fault.allCases.map { "\($0.rawValue) \(faults[$0] ?? 0)" }.joined(separator: ", "))
        print("\(count - UInt64(failed.count)) passed, \(failed.count) failed")
        if !failed.isEmpty { throw CLIFailure(code: 1, message: "\(failed.count) seed(s) failed; first: \(failed[0].seed)") }
    }

    private func makeTemporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() + "/recoveryctl-simulate-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else { throw CLIFailure(code: 1, message: "cannot make a temporary directory") }
        return String(cString: made)
    }
}

/// `N` or `A-B`.
struct SeedRange {
    let lower: UInt64, upper: UInt64
    var count: UInt64 { upper - lower + 1 }

    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let a = UInt64(parts[0]), let b = UInt64(parts[parts.count - 1]), a <= b, b < .max else { return nil }
        lower = a
        upper = b
    }
}
