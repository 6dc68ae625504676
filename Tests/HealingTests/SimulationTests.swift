import EventStore
import Foundation
import MeshSimulation
import Testing
import TestKit

/// The deterministic simulation: seeded incidents with faults on real stores, every invariant
/// checked after each seed. CI also runs `recoveryctl simulate --seeds 1-1000`; set
/// `SIMULATION_SEEDS=N` for a longer run here.
@Suite("Deterministic simulation with faults", .serialized)
struct SimulationTests {
    static var seedCount: UInt64 {
        ProcessInfo.processInfo.environment["SIMULATION_SEEDS"].flatMap { UInt64($0) } ?? 40
    }

    @Test("every seed keeps every invariant, and together the seeds meet every fault")
    func seedsHold() async throws {
        var faults: [Fault: Int] = [:]
        for seed in 1...Self.seedCount {
            let dir = TemporaryDirectory()
            let simulator = Simulator(seed: seed)
            let report = await simulator.run(in: dir.path)
            #expect(report.passed, "seed \(seed): \(report.failure ?? "") — reproduce: \(simulator.reproduction)")
            #expect(report.cycles == simulator.cycles && report.events > 0)
            faults.merge(report.faults) { $0 + $1 }
        }
        for fault in Fault.allCases {
            #expect(faults[fault, default: 0] > 0, "no seed met \(fault.rawValue)")
        }
    }

    @Test("a seed replays exactly: the same seed gives the same log, hash chain included")
    func seedsAreDeterministic() async throws {
        for seed: UInt64 in [6, 9] {
            let a = TemporaryDirectory(), b = TemporaryDirectory()
            let first = await Simulator(seed: seed).run(in: a.path)
            let second = await Simulator(seed: seed).run(in: b.path)
            #expect(first.passed && second.passed)
            #expect(first.faults == second.faults && first.events == second.events)
            let storeA = try EventStore.open(at: a.path + "/store"), storeB = try EventStore.open(at: b.path + "/store")
            #expect(try storeA.head() == storeB.head(), "seed \(seed)")
            storeA.close()
            storeB.close()
        }
    }
}
