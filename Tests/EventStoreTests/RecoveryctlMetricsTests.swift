import Foundation
import TestKit
import Testing

@Suite("recoveryctl metrics")
struct RecoveryctlMetricsTests {
    @Test("promtool check metrics accepts the demo store's exposition; --textfile writes it atomically; --at-seq shows a past point; bad points exit 2")
    func exposition() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let metrics = try recoveryctl(["metrics", "--store", store])
        #expect(metrics.status == 0 && metrics.stdout.contains("recovery_actions_total{node_id=\"agent-1\""))
        let check = try run("/usr/bin/promtool", ["check", "metrics"], stdin: Data(metrics.stdout.utf8))
        #expect(check.status == 0, "promtool: \(check.stdout) \(check.stderr)")
        #expect(metrics.stdout.contains(#"recovery_runbook_runs_total{node_id="agent-1",runbook="failover-unavailable-service",outcome="succeeded"} 3"#))

        // Under a policy, its decisions are counted by result and rule.
        let governed = dir.path + "/governed"
        let policy = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("policies/mesh.json").path
        #expect(try recoveryctl(["demo", "--store", governed, "--policy", policy]).status == 0)
        let decisions = try recoveryctl(["metrics", "--store", governed]).stdout
        #expect(decisions.contains(#"recovery_policy_decisions_total{node_id="agent-1",policy="mesh",result="deny",rule="runaway-incident"}"#))
        #expect(decisions.contains(#"recovery_policy_decisions_total{node_id="agent-1",policy="mesh",result="allow",rule="isolate-nodes"}"#))

        let textfile = dir.path + "/recovery.prom"
        #expect(try recoveryctl(["metrics", "--store", store, "--textfile", textfile]).status == 0)
        let written = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(written.hasPrefix("# HELP recovery_actions_total ") && written.hasSuffix("\n"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["governed", "recovery.prom", "store"])

        let past = try recoveryctl(["metrics", "--store", store, "--at-seq", "5"])
        #expect(past.status == 0 && past.stdout.contains("recovery_log_head_seq{node_id=\"agent-1\"} 5\n"))
        #expect(!past.stdout.contains("recovery_store_bytes"))
        for bad in ["0", "99999999999", "-3", "18446744073709551616"] {
            #expect(try recoveryctl(["metrics", "--store", store, "--at-seq", bad]).status == 2, "--at-seq \(bad)")
        }
    }
}
