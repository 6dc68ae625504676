import Foundation
import Testing
@testable import EventStore

/// `recoveryctl` as an operator runs it: a real process, its exit code, stdout and stderr.
@Suite("recoveryctl", .serialized)
struct RecoveryctlTests {
    static let good = #"{"type":"operator.note","stream":"node/a","data":{"text":"one"},"id":"n-1","node":"node-a","tags":{"service":"api"}}"#
    static let good2 = #"{"type":"operator.note","stream":"node/a","data":{"text":"two","n":2.5},"id":"n-2","time":"2026-11-29T06:00:00Z"}"#

    func write(_ dir: TemporaryDirectory, _ name: String, _ bytes: [UInt8]) throws -> String {
        let path = dir.path + "/" + name
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("bad import lines fail with the line number and field, exit 2, and write nothing", arguments: [
        ("{\"type\":\"t\",\"stream\":", "line 2: invalid JSON"),
        (#"{"type":"t","data":{}}"#, "line 2: field stream: missing"),
        (#"{"type":"t","stream":"s","data":[1]}"#, "line 2: field data: must be an object"),
        (#"{"type":7,"stream":"s","data":{}}"#, "line 2: field type: must be a string"),
        (#"{"type":"t","stream":"s","data":{},"colour":"red"}"#, "line 2: field colour: unknown field"),
        (#"{"type":"t","stream":"s","data":{},"time":"yesterday"}"#, "line 2: field time: not an RFC 3339 time"),
        (#"{"type":"t","stream":"s","data":{},"hlc":{"wall":1,"logical":-1}}"#, "line 2: field hlc.logical"),
    ])
    func badImports(line: String, message: String) throws {
        let dir = TemporaryDirectory()
        let file = try write(dir, "in.jsonl", Array((Self.good + "\n" + line + "\n" + Self.good2 + "\n").utf8))
        let result = try recoveryctl(["import", file, "--store", dir.store()])
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("recoveryctl: error:"), "\(result.stderr)")
        #expect(result.stderr.contains(message), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1)
        let stats = try recoveryctl(["stats", "--format", "json", "--store", dir.store()])
        #expect(stats.status == 2 || stats.stdout.contains("\"count\":0"), "nothing written")
    }

    @Test("a 10 MB line and invalid UTF-8 are refused with the line number")
    func hugeLineAndBadUTF8() throws {
        let dir = TemporaryDirectory()
        let huge = try write(dir, "huge.jsonl", Array((Self.good + "\n").utf8) + [UInt8](repeating: 0x20, count: 10_000_000) + [0x0a])
        let hugeResult = try recoveryctl(["import", huge, "--store", dir.store()])
        #expect(hugeResult.status == 2)
        #expect(hugeResult.stderr.contains("line 2: 10000000 bytes, longer than the 1 MiB limit"))
        let bad = try write(dir, "bad.jsonl", Array((Self.good + "\n").utf8) + Array(#"{"type":"t","stream":"s","data":{"x":""#.utf8) + [0xff, 0xfe] + Array("\"}}\n".utf8))
        let badResult = try recoveryctl(["import", bad, "--store", dir.store()])
        #expect(badResult.status == 2)
        #expect(badResult.stderr.contains("line 2: invalid UTF-8"))
        #expect(!FileManager.default.fileExists(atPath: dir.store() + "/data.mdb"), "nothing written")
    }

    @Test("an empty import writes nothing, says so, and exits 0")
    func emptyImport() throws {
        let dir = TemporaryDirectory()
        let file = try write(dir, "empty.jsonl", [])
        let result = try recoveryctl(["import", file, "--store", dir.store()])
        #expect(result.status == 0)
        #expect(result.stdout.contains("nothing to import"))
    }

    @Test("import is idempotent by id, and query --format jsonl re-imports into another store exactly")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        let file = try write(dir, "in.jsonl", Array((Self.good + "\n" + Self.good2 + "\n").utf8))
        #expect(try recoveryctl(["import", file, "--store", dir.store("a")]).stdout.contains("imported 2 events"))
        #expect(try recoveryctl(["--store", dir.store("a"), "import", file]).stdout.contains("imported 0 events"))
        let exported = try recoveryctl(["query", "--format", "jsonl", "--store", dir.store("a")])
        #expect(exported.status == 0)
        let copy = try recoveryctl(["import", "-", "--store", dir.store("b")], stdin: Data(exported.stdout.utf8))
        #expect(copy.status == 0, "\(copy.stderr)")
        let reexported = try recoveryctl(["query", "--format", "jsonl", "--store", dir.store("b")])
        // Same ids, times, clocks, nodes, payloads: and so the same hash chain.
        #expect(reexported.stdout == exported.stdout)
    }

    @Test("query filters and formats: table, json, jsonl, csv with data columns")
    func queryFormats() throws {
        let dir = TemporaryDirectory()
        let file = try write(dir, "in.jsonl", Array((Self.good + "\n" + Self.good2 + "\n").utf8))
        _ = try recoveryctl(["import", file, "--store", dir.store()])
        let byTag = try recoveryctl(["query", "--tag", "service=api", "--format", "jsonl", "--store", dir.store()])
        #expect(byTag.stdout.split(separator: "\n").count == 1)
        let json = try recoveryctl(["query", "--format", "json", "--store", dir.store()])
        let array = try JSONParser.parse(json.stdout)
        guard case .array(let items) = array else { Issue.record("not an array"); return }
        #expect(items.count == 2)
        let csv = try recoveryctl(["query", "--format", "csv", "--store", dir.store()]).stdout.split(separator: "\n")
        #expect(csv[0].hasSuffix("data.n,data.text"))
        #expect(csv[2].hasSuffix(",2.5,two"))
        let range = try recoveryctl(["query", "--since", "2026-11-29T05:59:00Z", "--until", "2026-11-29T06:01:00Z", "--format", "jsonl", "--store", dir.store()])
        #expect(range.stdout.contains("\"id\":\"n-2\"") && !range.stdout.contains("\"id\":\"n-1\""))
        let table = try recoveryctl(["query", "--reverse", "--limit", "1", "--store", dir.store()])
        #expect(table.stdout.contains("SEQ") && table.stdout.contains("operator.note"))
    }

    @Test("usage errors exit 2 with one error line; reading a missing store creates nothing", arguments: [
        ["query", "--limit", "x"], ["query", "--since", "last tuesday"], ["query", "--tag", "novalue"],
        ["verify", "--anchor", "12"], ["frobnicate"], ["query", "--from-seq", "9", "--to-seq", "2"], ["tail", "-n", "-1"],
    ])
    func usageErrors(arguments: [String]) throws {
        let dir = TemporaryDirectory()
        _ = try recoveryctl(["import", "-", "--store", dir.store()], stdin: Data((Self.good + "\n").utf8))
        let result = try recoveryctl(arguments + ["--store", dir.store()])
        #expect(result.status == 2, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("recoveryctl: error:"))
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        let missing = try recoveryctl(["stats", "--store", dir.store("nowhere")])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains(dir.store("nowhere")))
        #expect(!FileManager.default.fileExists(atPath: dir.store("nowhere")))
    }

    @Test("verify prints the head for --anchor; a cut-off log fails its anchor with exit 1")
    func anchors() throws {
        let dir = TemporaryDirectory()
        let lines = (1...5).map { #"{"type":"t","stream":"s","data":{"n":\#($0)},"id":"e-\#($0)"}"# }.joined(separator: "\n")
        _ = try recoveryctl(["import", "-", "--store", dir.store("full")], stdin: Data(lines.utf8))
        let verify = try recoveryctl(["verify", "--format", "json", "--store", dir.store("full")])
        #expect(verify.status == 0)
        let report = try JSONParser.parse(verify.stdout)
        let hash = try #require(report["head"]?["hash"]?.stringValue)
        #expect(try recoveryctl(["verify", "--anchor", "5:\(hash)", "--store", dir.store("full")]).status == 0)
        // The same events but the last one: as if the newest record had been cut off.
        let cut = lines.split(separator: "\n").dropLast().joined(separator: "\n")
        _ = try recoveryctl(["import", "-", "--store", dir.store("cut")], stdin: Data(cut.utf8))
        let failed = try recoveryctl(["verify", "--anchor", "5:\(hash)", "--store", dir.store("cut")])
        #expect(failed.status == 1)
        #expect(failed.stdout.contains("cut off"))
    }

    @Test("stats, reindex and tail -f against a store another process appends to")
    func tailFollows() throws {
        let dir = TemporaryDirectory()
        _ = try recoveryctl(["import", "-", "--store", dir.store()], stdin: Data((Self.good + "\n").utf8))
        let stats = try recoveryctl(["stats", "--format", "json", "--store", dir.store()])
        let parsed = try JSONParser.parse(stats.stdout)
        #expect(parsed["count"] == .int(1))
        #expect(parsed["per_node"]?["node-a"] == .int(1))
        #expect(try recoveryctl(["reindex", "--store", dir.store()]).stdout.contains("index checkpoint 1"))
        let tail = try ChildProcess(Executables.recoveryctl, ["tail", "-f", "-n", "1", "--format", "jsonl", "--interval", "20", "--store", dir.store()])
        defer { tail.kill() }
        #expect(tail.waitFor { $0.count >= 1 })
        let writer = try ChildProcess(Executables.crashHelper, [dir.store(), "append", "--batch", "5", "--max", "20"])
        #expect(writer.waitFor { $0.contains("done") })
        #expect(tail.waitFor { $0.count >= 21 }, "tail saw \(tail.output.count) lines")
        #expect(tail.output.last?.contains("\"seq\":21") == true)
    }
}
