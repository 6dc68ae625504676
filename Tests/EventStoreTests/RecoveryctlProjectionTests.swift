import Foundation
import Testing
@testable import EventStore

/// `recoveryctl replay`, `diff`, `projections` and `rebuild` on the built-in incident.
@Suite("recoveryctl projections", .serialized)
struct RecoveryctlProjectionTests {
    /// A store holding examples/incident.jsonl (43 events from 06:08:00Z to 06:09:16.4Z).
    func incidentStore() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("examples/incident.jsonl").path
        let result = try recoveryctl(["import", source, "--store", dir.store()])
        #expect(result.status == 0, "\(result.stderr)")
        return dir
    }

    @Test("replay prints each projection's state at a point, as JSON or as digests")
    func replay() throws {
        let dir = try incidentStore()
        let json = try recoveryctl(["replay", "--at-seq", "10", "--projection", "stats", "--format", "json", "--store", dir.store()])
        #expect(json.status == 0, "\(json.stderr)")
        guard case .map(let root) = try JSONParser.parse(json.stdout), case .map(let projections)? = root["projections"] else {
            Issue.record("not a JSON object: \(json.stdout)")
            return
        }
        #expect(root["seq"] == 10)
        #expect(projections.keys.sorted() == ["stats"])
        #expect(projections["stats"]?["state"]?["events"] == 10)

        let digests = try recoveryctl(["replay", "--digest", "--store", dir.store()])
        let lines = digests.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.map { String($0[0]) } == ["stats", "streams", "breakers", "limiters", "topology", "actions", "mapek", "runbooks", "replicated", "certificates", "metrics", "policies"])
        #expect(lines.allSatisfy { $0.count == 2 && $0[1].count == 64 })
        // A time point means the last event at or before it: 06:08:00Z is the first event.
        let atTime = try recoveryctl(["replay", "--at-time", "2026-11-29T06:08:00Z", "--projection", "stats", "--store", dir.store()])
        #expect(atTime.stdout.contains("at seq 1,"), "\(atTime.stdout)")
    }

    @Test("diff lists the paths that changed between two points, by seq or by time")
    func diff() throws {
        let dir = try incidentStore()
        let table = try recoveryctl(["diff", "--from", "10", "--to", "20", "--projection", "stats", "--store", dir.store()])
        #expect(table.status == 0, "\(table.stderr)")
        #expect(table.stdout.contains("~ /events  10 -> 20"), "\(table.stdout)")
        let json = try recoveryctl(["diff", "--from", "2026-11-29T06:08:00Z", "--to", "43", "--projection", "streams",
                                    "--format", "json", "--store", dir.store()])
        #expect(json.status == 0, "\(json.stderr)")
        guard case .map(let root) = try JSONParser.parse(json.stdout), case .array(let changes)? = root["projections"]?["streams"] else {
            Issue.record("not a JSON diff: \(json.stdout)")
            return
        }
        #expect(root["from_seq"] == 1 && root["to_seq"] == 43)
        #expect(changes.contains { $0["kind"] == "added" })
    }

    @Test("points outside the log are exit 2 with a clear message", arguments: [
        ["replay", "--at-seq", "0"], ["replay", "--at-seq", "44"],
        ["replay", "--at-time", "2020-01-01T00:00:00Z"], ["replay", "--at-time", "2999-01-01T00:00:00Z"],
        ["diff", "--from", "0", "--to", "5"], ["diff", "--from", "5", "--to", "9999"],
        ["diff", "--from", "2020-01-01T00:00:00Z", "--to", "5"], ["replay", "--projection", "nope"],
        ["diff", "--from", "yesterday", "--to", "5"],
    ])
    func outOfRange(arguments: [String]) throws {
        let dir = try incidentStore()
        let result = try recoveryctl(arguments + ["--store", dir.store()])
        #expect(result.status == 2)
        #expect(result.stdout.isEmpty)
        #expect(result.stderr.hasPrefix("recoveryctl: error:"), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
    }

    @Test("projections shows checkpoints and lag; rebuild brings them to the head")
    func projectionsAndRebuild() throws {
        let dir = try incidentStore()
        let before = try recoveryctl(["projections", "--format", "json", "--store", dir.store()])
        #expect(before.status == 0, "\(before.stderr)")
        guard case .array(let rows) = try JSONParser.parse(before.stdout) else { Issue.record("\(before.stdout)"); return }
        #expect(rows.map { $0["name"] } == ["stats", "streams", "breakers", "limiters", "topology", "actions", "mapek", "runbooks", "replicated", "certificates", "metrics", "policies"])
        #expect(rows.allSatisfy { $0["checkpoint"] == 0 && $0["lag"] == 43 })

        let rebuild = try recoveryctl(["rebuild", "--projection", "stats", "--store", dir.store()])
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout.contains("rebuilt stats v1: 43 events"))
        let after = try recoveryctl(["projections", "--store", dir.store()])
        let stats = after.stdout.split(separator: "\n").first { $0.hasPrefix("stats") }.map { $0.split(separator: " ") }
        #expect(stats.map { $0.map(String.init) } == ["stats", "1", "43", "1", "0", "-"], "stats counts no malformed events: \(after.stdout)")
        // Replay digests do not depend on whether snapshots exist.
        let withSnapshot = try recoveryctl(["replay", "--digest", "--projection", "stats", "--store", dir.store()])
        let fresh = try incidentStore()
        let withoutSnapshot = try recoveryctl(["replay", "--digest", "--projection", "stats", "--store", fresh.store()])
        #expect(withSnapshot.stdout == withoutSnapshot.stdout)
    }

    @Test("replay on a missing store names it and creates nothing")
    func missingStore() throws {
        let dir = TemporaryDirectory()
        let result = try recoveryctl(["replay", "--store", dir.store("absent")])
        #expect(result.status == 2)
        #expect(result.stderr.contains(dir.store("absent")))
        #expect(!FileManager.default.fileExists(atPath: dir.store("absent")))
    }
}
