import ArgumentParser
import EventStore
import Foundation
import Healing
import MeshSimulation
import Projections

/// Reads a runbook, refusing (exit 2, nothing recorded) one that breaks the schema.
func readRunbook(_ path: String) throws -> RunbookDocument {
    try readDocument(path, kind: "runbook", limit: RunbookDocument.maximumBytes) { bytes throws(DocumentErrors) in try RunbookDocument(json: bytes) }
}

struct RunbookCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runbook", abstract: "Runbooks: which actions answer which symptoms. Test, publish and activate versions; list and show them.",
        discussion: "A runbook is a JSON document (runbooks/runbook.schema.json; runbooks/ holds the defaults). Every version is a runbook.published event, the one in force a runbook.activated event; a running agent plans with it from its next cycle, and activating an older version is the rollback.",
        subcommands: [Test.self, VersionPublish<RunbookKind>.self, VersionActivate<RunbookKind>.self, VersionList<RunbookKind>.self, VersionShow<RunbookKind>.self])

    struct Test: AsyncRun {
        static let configuration = CommandConfiguration(
            abstract: "Check FILE: run its own test cases (exit 1 on a mismatch), then rehearse it on the simulated mesh with the dry-run actuator.",
            discussion: "The rehearsal prints each action the runbook would take under the scenario's faults and the topology it would leave. Scenarios: demo (every fault), region-outage, error-storm, flapping-node.")
        @Argument(help: "The runbook (JSON).") var file: String
        @Option(help: "The simulated faults: demo, region-outage, error-storm or flapping-node.") var scenario = "demo"
        @Option(help: "Seeds the simulated mesh.") var seed: UInt64 = 1

        func runAsync() async throws {
            let runbook = try readRunbook(file)
            let faults: Set<DemoScenario.Fault>
            if scenario == "demo" { faults = Set(DemoScenario.Fault.allCases) } else {
                guard let fault = DemoScenario.Fault(rawValue: scenario) else {
                    throw CLIFailure.usage("--scenario \(scenario): one of demo, " + DemoScenario.Fault.allCases.map(\.rawValue).joined(separator: ", "))
                }
                faults = [fault]
            }
            let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("recoveryctl-runbook-\(getpid())").path
            try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: scratch) }
            let results = try await healingCall { try await RunbookTester.run(runbook, in: scratch) }
            print("runbook \(runbook.name): \(results.count) test case\(results.count == 1 ? "" : "s")")
            for result in results {
                print("  \(result.passed ? "ok  " : "FAIL") \(result.name)")
                if !result.passed {
                    print("       planned:  \(JSONWriter.encode(.array(result.actions)))")
                    print("       expected: \(JSONWriter.encode(.array(result.expected)))")
                }
            }

            let demo = DemoScenario(seed: seed)
            let clock = ManualClock(DemoScenario.start)
            let store = try storeCall { try EventStore.open(at: scratch + "/rehearsal", options: demo.storeOptions(clock: clock)) }
            defer { store.close() }
            let (actions, topology) = try await healingCall { try await demo.rehearse([runbook], faults: faults, store: store, clock: clock) }
            print("\nrehearsal on the simulated mesh (scenario \(scenario), seed \(seed), dry-run actuator): \(actions.count) action\(actions.count == 1 ? "" : "s")")
            for (id, action, outcome) in actions { print("  \(id)  \(action.kind.rawValue) \(action.target)  \(JSONWriter.encode(action.params))  \(outcome.summary)") }
            print("resulting topology: \(JSONWriter.encode(topology.document))")
            let failed = results.filter { !$0.passed }.count
            if failed > 0 { throw CLIFailure(code: 1, message: "\(failed) of \(results.count) test cases of \(runbook.name) failed") }
        }
    }
}
