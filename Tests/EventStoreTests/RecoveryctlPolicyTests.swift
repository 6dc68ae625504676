import EventStore
import Foundation
import TestKit
import Testing

@Suite("recoveryctl policy")
struct RecoveryctlPolicyTests {
    static let policies = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("policies").path

    @Test("the demo under policies/mesh.json: denied actions are policy_denied with the version, audit shows the decision under the plan, replay against a new version names what changes")
    func demoUnderPolicy() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        let demo = try recoveryctl(["demo", "--store", store, "--policy", Self.policies + "/mesh.json"])
        #expect(demo.status == 0, "\(demo.stderr)")
        #expect(demo.stdout.contains("rejected  scale (policy_denied)"))

        let rejected = try recoveryctl(["query", "--store", store, "--type", "action.rejected", "--format", "jsonl"]).stdout
        let denied = rejected.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }.filter { $0["data"]?["reason"] == "policy_denied" }
        #expect(!denied.isEmpty && denied.allSatisfy { $0["data"]?["policy"] == "mesh" && $0["data"]?["policy_version"] == 1 })
        let action = try #require(denied.first?["data"]?["action"]?.stringValue)
        let audit = try recoveryctl(["audit", action, "--store", store])
        let lines = audit.stdout.split(separator: "\n")
        let decision = try #require(lines.firstIndex { $0.contains("policy.decision") && $0.contains("result=deny") && $0.contains("rule=runaway-incident") })
        let plan = try #require(lines.firstIndex { $0.contains("action.planned") })
        // Under the plan, one level deeper.
        #expect(decision > plan && lines[decision].prefix { $0 == " " }.count > lines[plan].prefix { $0 == " " }.count, "\(audit.stdout)")

        let decisions = try recoveryctl(["policy", "decisions", "--store", store, "--policy", "mesh", "--format", "json"])
        let count = decisions.stdout.split(separator: "\n").count
        #expect(decisions.status == 0 && count > 10)

        let v2 = dir.path + "/v2.json"
        try Data(#"{"policy":"mesh","rules":[{"id":"no-scaling","effect":"deny","when":{"kind":["scale"]}},{"id":"anything","effect":"allow","when":{}}]}"#.utf8)
            .write(to: URL(fileURLWithPath: v2))
        #expect(try recoveryctl(["policy", "publish", v2, "--store", store]).stdout.contains("mesh version 2 published"))
        // The only policy published: --policy may be left out.
        let replay = try recoveryctl(["policy", "replay", "--store", store, "--version", "2"])
        #expect(replay.status == 0 && replay.stdout.contains("CHANGED") && replay.stdout.contains("-> v2 deny (no-scaling)"))
        #expect(replay.stdout.contains("of \(count) decisions would change under version 2"), "\(replay.stdout)")
        // Replay changes nothing in the log.
        #expect(try recoveryctl(["policy", "decisions", "--store", store, "--policy", "mesh"]).stdout.split(separator: "\n").count == count)
    }

    @Test("publish refuses a bad document with every error's path (exit 2, nothing recorded); activate, list, show --at-seq and eval answer from the log")
    func commands() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        let bad = dir.path + "/bad.json"
        try Data(#"{"policy":"mesh","rules":[{"id":"a","effect":"nope","when":{"kind":["fly"],"time":{"from":"9","to":"10:00"}}}]}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let refused = try recoveryctl(["policy", "publish", bad, "--store", store])
        #expect(refused.status == 2)
        for path in ["$.rules[0].effect", "$.rules[0].when.kind[0]", "$.rules[0].when.time.from"] { #expect(refused.stderr.contains(path), "\(refused.stderr)") }
        #expect(!FileManager.default.fileExists(atPath: store + "/data.mdb"))

        #expect(try recoveryctl(["policy", "publish", Self.policies + "/mesh.json", "--store", store]).status == 0)
        #expect(try recoveryctl(["policy", "eval", "--store", store, "--policy", "mesh", "--kind", "scale", "--target", "service/api"]).status == 1)
        #expect(try recoveryctl(["policy", "activate", "mesh", "1", "--store", store]).status == 0)
        #expect(try recoveryctl(["policy", "activate", "mesh", "7", "--store", store]).status == 2)
        let allowed = try recoveryctl(["policy", "eval", "--store", store, "--policy", "mesh", "--kind", "scale", "--target", "service/api", "--label", "to=3", "--at", "2026-12-02T10:00:00Z"])
        #expect(allowed.status == 0 && allowed.stdout.contains("allow by mesh version 1, rule heal-services"))
        let night = try recoveryctl(["policy", "eval", "--store", store, "--policy", "mesh", "--kind", "scale", "--target", "service/api", "--at", "2026-12-02T23:00:00Z"])
        #expect(night.status == 1 && night.stdout.contains("no-scaling-in-backup-window"))
        let peer = try recoveryctl(["policy", "eval", "--store", store, "--policy", "mesh", "--peer", "spiffe://mesh.local/node/a", "--verdict", "untrusted", "--operation", "sync", "--dry-run"])
        #expect(peer.status == 1 && peer.stdout.contains("untrusted-peers"))
        #expect(try recoveryctl(["policy", "eval", "--store", store, "--policy", "mesh", "--kind", "scale"]).status == 2)
        #expect(try recoveryctl(["policy", "eval", "--store", store, "--policy", "mesh", "--peer", "x", "--opa", "ftp://x"]).status == 2)

        let list = try recoveryctl(["policy", "list", "--store", store])
        #expect(list.stdout.contains("mesh") && list.stdout.split(separator: "\n").last?.hasSuffix("1") == true)
        #expect(try recoveryctl(["policy", "show", "mesh", "--store", store, "--at-seq", "1"]).status == 2)
        let shown = try recoveryctl(["policy", "show", "mesh", "--store", store, "--version", "1"])
        #expect(shown.status == 0 && (try? JSONParser.parse(shown.stdout))?["document"]?["policy"] == "mesh")
        // Three decisions recorded (the dry run was not).
        #expect(try recoveryctl(["policy", "decisions", "--store", store]).stdout.split(separator: "\n").count == 3)
    }
}
