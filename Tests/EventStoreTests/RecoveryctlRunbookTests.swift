import EventStore
import Foundation
import TestKit
import Testing

@Suite("recoveryctl runbook")
struct RecoveryctlRunbookTests {
    static let runbooks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("runbooks").path

    static func shipped() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: runbooks).filter { $0.hasSuffix(".json") && !$0.hasSuffix(".schema.json") }.sorted()
            .map { runbooks + "/" + $0 }
    }

    @Test("runbook test passes every shipped runbook's own cases and rehearses it on the simulated mesh; a wrong expectation exits 1, a schema error 2 with its path")
    func test() throws {
        for file in try Self.shipped() {
            let result = try recoveryctl(["runbook", "test", file])
            #expect(result.status == 0 && !result.stdout.contains("FAIL") && result.stdout.contains("resulting topology: {"), "\(file): \(result.stdout)\(result.stderr)")
        }
        let failover = try recoveryctl(["runbook", "test", Self.runbooks + "/failover-unavailable-service.json", "--scenario", "region-outage", "--seed", "3"])
        #expect(failover.stdout.contains("failover service/api"), "\(failover.stdout)")
        #expect(failover.stdout.contains(#""api":"eu-central""#))

        let dir = TemporaryDirectory()
        let wrong = dir.path + "/wrong.json"
        let text = try String(contentsOfFile: Self.runbooks + "/scale-erroring-service.json", encoding: .utf8)
            .replacingOccurrences(of: #""from": 3, "to": 4"#, with: #""from": 3, "to": 5"#)
        try text.write(toFile: wrong, atomically: true, encoding: .utf8)
        let mismatch = try recoveryctl(["runbook", "test", wrong])
        #expect(mismatch.status == 1 && mismatch.stdout.contains("FAIL db at 3 replicas goes to 4") && mismatch.stdout.contains(#""to":4"#))

        let bad = dir.path + "/bad.json"
        try #"{"runbook": "x", "match": {"symptom": "high_error_rate"}, "steps": [{"action": "scale", "params": {"service": "{{sevice}}"}}]}"#
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try recoveryctl(["runbook", "test", bad])
        #expect(refused.status == 2 && refused.stderr.contains("$.steps[0].params.service: unknown template variable sevice"), "\(refused.stderr)")
        #expect(try recoveryctl(["runbook", "test", wrong, "--scenario", "volcano"]).status == 2)
    }

    @Test("publish (refused with exit 2 and nothing recorded for a bad document), activate, list and show --at-seq answer from the log")
    func versions() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        let bad = dir.path + "/bad.json"
        try #"{"runbook": "x", "match": {}, "steps": []}"#.write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try recoveryctl(["runbook", "publish", bad, "--store", store])
        #expect(refused.status == 2 && refused.stderr.contains("$.match: missing required field symptom") && refused.stderr.contains("$.steps: needs at least one step"))
        #expect(!FileManager.default.fileExists(atPath: store + "/data.mdb"))

        let file = Self.runbooks + "/scale-erroring-service.json"
        #expect(try recoveryctl(["runbook", "publish", file, "--store", store]).stdout.contains("scale-erroring-service version 1 published"))
        #expect(try recoveryctl(["runbook", "publish", file, "--store", store, "--activate"]).stdout.contains("already published, nothing recorded"))
        #expect(try recoveryctl(["runbook", "activate", "scale-erroring-service", "2", "--store", store]).status == 2)
        let list = try recoveryctl(["runbook", "list", "--store", store])
        #expect(list.stdout.contains("scale-erroring-service") && list.stdout.split(separator: "\n").last?.hasSuffix("1       1") == true, "\(list.stdout)")
        let shown = try recoveryctl(["runbook", "show", "scale-erroring-service", "--store", store])
        #expect(shown.status == 0 && (try? JSONParser.parse(shown.stdout))?["document"]?["runbook"] == "scale-erroring-service")
        #expect(try recoveryctl(["runbook", "show", "scale-erroring-service", "--store", store, "--at-seq", "1"]).status == 2)
        #expect(try recoveryctl(["runbook", "show", "scale-erroring-service", "--store", store, "--at-seq", "1", "--version", "1"]).status == 0)
    }

    @Test("runbooks/runbook.schema.json (JSON Schema 2020-12, checked by the jsonschema package) accepts every shipped runbook and refuses what the loader refuses")
    func schema() async throws {
        let dir = TemporaryDirectory()
        let venv = dir.path + "/venv"
        let created = try await offThePool { try run("/usr/bin/python3", ["-m", "venv", venv]) }
        if created.status != 0 { try Test.cancel("no virtualenv for jsonschema: \(created.stderr)") }
        let install = try await offThePool { try run(venv + "/bin/pip", ["install", "-q", "jsonschema"]) }
        if install.status != 0 { try Test.cancel("cannot install jsonschema here: \(install.stderr.suffix(400))") }
        let invalid = [#"{"runbook": "x", "match": {"symptom": "s"}, "steps": []}"#,
                       #"{"runbook": "x y", "match": {"symptom": "s"}, "steps": [{"action": "scale", "params": {}}]}"#,
                       #"{"runbook": "x", "match": {"symptom": "s", "on": "later"}, "steps": [{"action": "scale", "params": {}}]}"#,
                       #"{"runbook": "x", "match": {"symptom": "s"}, "steps": [{"action": "teleport", "params": {}}]}"#,
                       #"{"runbook": "x", "match": {"symptom": "s"}, "steps": [{"action": "release", "params": {"node": "n"}, "on_failure": "retry"}]}"#]
        for (index, text) in invalid.enumerated() {
            try text.write(toFile: dir.path + "/invalid-\(index).json", atomically: true, encoding: .utf8)
            #expect(try recoveryctl(["runbook", "test", dir.path + "/invalid-\(index).json"]).status == 2, "the loader accepts invalid-\(index)")
        }
        let script = """
            import json, sys
            from jsonschema import Draft202012Validator
            schema = json.load(open(sys.argv[1]))
            Draft202012Validator.check_schema(schema)
            validator = Draft202012Validator(schema)
            for path in sys.argv[2:]:
                errors = list(validator.iter_errors(json.load(open(path))))
                print(("valid" if not errors else "invalid") + " " + path)
            """
        let shipped = try Self.shipped()
        let paths = shipped + invalid.indices.map { dir.path + "/invalid-\($0).json" }
        let checked = try run(venv + "/bin/python", ["-c", script, Self.runbooks + "/runbook.schema.json"] + paths)
        #expect(checked.status == 0, "\(checked.stderr)")
        let lines = checked.stdout.split(separator: "\n")
        #expect(lines.filter { $0.hasPrefix("valid ") }.count == shipped.count && lines.filter { $0.hasPrefix("invalid ") }.count == invalid.count, "\(checked.stdout)")
    }
}
