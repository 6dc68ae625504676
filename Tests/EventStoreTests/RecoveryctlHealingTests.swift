import Foundation
import Testing
@testable import EventStore

/// `recoveryctl demo`, `rollback`, `breakers` and `actions` as an operator runs them.
@Suite("recoveryctl healing", .serialized)
struct RecoveryctlHealingTests {
    func demoStore(seed: Int = 1) throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let result = try recoveryctl(["demo", "--seed", "\(seed)", "--store", dir.store()])
        #expect(result.status == 0, "\(result.stderr)")
        return dir
    }

    func script(_ dir: TemporaryDirectory, _ body: String) throws -> String {
        let path = dir.path + "/actuator.sh"
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test("demo prints a timeline and the commands to explore; the same seed gives the same jsonl export")
    func demoIsDeterministic() throws {
        let a = TemporaryDirectory(), b = TemporaryDirectory()
        let first = try recoveryctl(["demo", "--seed", "4", "--store", a.store()])
        #expect(first.status == 0, "\(first.stderr)")
        for expected in ["failover", "rate_limited", "closed -> open", "open -> half_open", "half_open -> closed", "rollback  completed", "recoveryctl --store"] {
            #expect(first.stdout.contains(expected), "missing \(expected)")
        }
        _ = try recoveryctl(["demo", "--seed", "4", "--store", b.store()])
        let exportA = try recoveryctl(["query", "--format", "jsonl", "--store", a.store()])
        let exportB = try recoveryctl(["query", "--format", "jsonl", "--store", b.store()])
        #expect(exportA.status == 0 && !exportA.stdout.isEmpty)
        #expect(exportA.stdout == exportB.stdout)
        #expect(try recoveryctl(["verify", "--store", a.store()]).status == 0)
    }

    @Test("demo on a store that already holds events starts a fresh one beside it")
    func demoTwice() throws {
        let dir = try demoStore()
        let again = try recoveryctl(["demo", "--store", dir.store()])
        #expect(again.status == 0, "\(again.stderr)")
        #expect(again.stdout.contains("this run uses \(dir.store())-2"))
        #expect(FileManager.default.fileExists(atPath: dir.store() + "-2/data.mdb"))
        try? FileManager.default.removeItem(atPath: dir.store() + "-2")
    }

    @Test("breakers and actions show the projections as tables or JSON")
    func views() throws {
        let dir = try demoStore()
        let breakers = try recoveryctl(["breakers", "--format", "json", "--store", dir.store()])
        guard case .array(let rows) = try JSONParser.parse(breakers.stdout) else { Issue.record("\(breakers.stdout)"); return }
        #expect(rows.contains { $0["state"] == "closed" && ($0["failures"]?.intValue ?? 0) >= 5 })
        let actions = try recoveryctl(["actions", "--correlation", "incident-sim-1-2", "--store", dir.store()])
        #expect(actions.stdout.contains("quarantine") && actions.stdout.contains("rejected"))
        #expect(!actions.stdout.contains("incident-sim-1-1"))
    }

    @Test("operators force breakers open or closed and reset them, with a recorded reason")
    func breakerOverrides() throws {
        let dir = try demoStore()
        let open = try recoveryctl(["breakers", "--force-open", "service/api", "--reason", "maintenance", "--by", "alice", "--format", "json", "--store", dir.store()])
        #expect(open.status == 0, "\(open.stderr)")
        guard case .array(let rows) = try JSONParser.parse(open.stdout) else { Issue.record("\(open.stdout)"); return }
        #expect(rows.contains { $0["breaker"] == "service/api" && $0["state"] == "forced_open" })
        let reset = try recoveryctl(["breakers", "--reset", "service/api", "--reason", "done", "--store", dir.store()])
        #expect(reset.status == 0 && reset.stdout.contains("service/api"))
        let events = try recoveryctl(["query", "--stream", "breaker/service/api", "--format", "jsonl", "--store", dir.store()])
        #expect(events.stdout.contains("\"operator\":\"alice\"") && events.stdout.contains("\"reason\":\"maintenance\""))
        #expect(events.stdout.contains("\"to\":\"closed\""))
        for bad in [["--force-open", "service/api"], ["--reset", "api", "--reason", "x"], ["--force-open", "a/b", "--reset", "a/b", "--reason", "x"]] {
            let result = try recoveryctl(["breakers"] + bad + ["--store", dir.store()])
            #expect(result.status == 2 && result.stderr.hasPrefix("recoveryctl: error:"), "\(bad): \(result.stderr)")
        }
    }

    @Test("rollback --dry-run prints the plan; --exec runs each compensation through the command")
    func rollbackExec() throws {
        let dir = try demoStore()
        let plan = try recoveryctl(["rollback", "--to-seq", "60", "--dry-run", "--store", dir.store()])
        #expect(plan.status == 0, "\(plan.stderr)")
        guard case .array(let actions)? = try JSONParser.parse(plan.stdout)["actions"] else { Issue.record("\(plan.stdout)"); return }
        #expect(!actions.isEmpty)
        let log = dir.path + "/calls.log"
        // The first call fails retryably (75), then every call succeeds and reports its effect.
        let command = try script(dir, """
        cat >> \(log)
        echo >> \(log)
        if [ ! -f \(dir.path)/flaked ]; then touch \(dir.path)/flaked; exit 75; fi
        exit 0
        """)
        let run = try recoveryctl(["rollback", "--store", dir.store(), "--to-seq", "60", "--exec", command])
        #expect(run.status == 0, "\(run.stderr)")
        let calls = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n")
        #expect(calls.count == actions.count + 1)
        #expect(calls.first?.contains("\"attempt\":1") == true && calls.dropFirst().first?.contains("\"attempt\":2") == true)
        let replayNow = try recoveryctl(["replay", "--projection", "topology", "--digest", "--store", dir.store()])
        let replayThen = try recoveryctl(["replay", "--projection", "topology", "--digest", "--at-seq", "60", "--store", dir.store()])
        #expect(replayNow.stdout == replayThen.stdout)
    }

    @Test("a malformed --exec reply is recorded as a failure and the rollback exits 1 naming it")
    func malformedReply() throws {
        let dir = try demoStore()
        let command = try script(dir, "cat > /dev/null\necho '{\"effect\": {\"kind\": \"teleport\"}}'")
        let result = try recoveryctl(["rollback", "--store", dir.store(), "--to-seq", "60", "--exec", command])
        #expect(result.status == 1)
        #expect(result.stderr.contains("malformed actuator reply"), "\(result.stderr)")
        let failed = try recoveryctl(["query", "--type", "action.failed", "--format", "jsonl", "--store", dir.store()])
        #expect(failed.stdout.contains("malformed actuator reply"))
    }

    @Test("an --exec reply with an effect is recorded as the effect applied")
    func execEffect() throws {
        let dir = try demoStore()
        // Apply every failover to eu-south instead of where it was planned to go.
        let command = try script(dir, """
        request=$(cat)
        case "$request" in
          *failover*) service=$(echo "$request" | sed 's/.*"service":"\\([^"]*\\)".*/\\1/')
                      echo "{\\"effect\\": {\\"kind\\": \\"failover\\", \\"params\\": {\\"service\\": \\"$service\\", \\"from_region\\": \\"eu-central\\", \\"to_region\\": \\"eu-south\\"}}}" ;;
        esac
        exit 0
        """)
        let run = try recoveryctl(["rollback", "--store", dir.store(), "--to-seq", "60", "--exec", command])
        #expect(run.status == 0, "\(run.stderr)")
        let topology = try recoveryctl(["replay", "--projection", "topology", "--format", "json", "--store", dir.store()])
        guard case .map(let regions)? = try JSONParser.parse(topology.stdout)["projections"]?["topology"]?["state"]?["value"]?["regions"] else {
            Issue.record("\(topology.stdout)")
            return
        }
        #expect(["api", "cache", "db"].allSatisfy { regions[$0] == "eu-south" }, "\(regions)")
    }

    @Test("bad rollback requests are exit 2 with one clear line", arguments: [
        ["rollback", "--to-seq", "0", "--dry-run"], ["rollback", "--to-seq", "999999", "--dry-run"],
        ["rollback", "--to-seq", "5"], ["rollback", "--to-seq", "x", "--dry-run"],
    ])
    func badRollbacks(arguments: [String]) throws {
        let dir = try demoStore()
        let result = try recoveryctl(arguments + ["--store", dir.store()])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("recoveryctl: error:") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }
}
