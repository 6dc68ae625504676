import EventStore
import Foundation
import TestKit
import Testing

@Suite("recoveryctl timeline export")
struct TimelineExportTests {
    @Test("three stores merge into one timeline in clock order; every row has Timesketch's message, datetime and timestamp_desc; the CSV reads back under RFC 4180 (Python's csv) with the same rows")
    func fleetTimeline() throws {
        let dir = TemporaryDirectory()
        let stores = (1...3).map { dir.path + "/node-\($0)" }
        var total = 0
        for (index, store) in stores.enumerated() {
            #expect(try recoveryctl(["demo", "--store", store, "--seed", "\(index + 1)"]).status == 0)
            total += try recoveryctl(["query", "--store", store, "--format", "jsonl"]).stdout.split(separator: "\n").count
        }
        let jsonl = dir.path + "/timeline.jsonl"
        #expect(try recoveryctl(["timeline", "export", "--format", "jsonl", "-o", jsonl] + stores.flatMap { ["--store", $0] }).status == 0)
        let rows = try String(contentsOfFile: jsonl, encoding: .utf8).split(separator: "\n").map { try JSONParser.parse(Array($0.utf8)) }
        #expect(rows.count == total)
        var previous = ""
        let iso8601 = ISO8601DateFormatter()
        iso8601.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for row in rows {
            let datetime = row["datetime"]?.stringValue ?? ""
            #expect(iso8601.date(from: datetime) != nil && datetime.hasSuffix("+00:00"), "\(datetime)")
            #expect(datetime >= previous, "out of clock order: \(datetime) after \(previous)")
            previous = datetime
            #expect(row["message"]?.stringValue?.isEmpty == false && row["timestamp_desc"]?.stringValue?.isEmpty == false)
            #expect(row["hash"]?.stringValue?.count == 64 && row["prev"]?.stringValue?.count == 64)
        }
        #expect(rows.contains { $0["message"]?.stringValue?.hasPrefix("Circuit breaker ") == true })

        let csv = dir.path + "/timeline.csv"
        #expect(try recoveryctl(["timeline", "export", "--format", "csv", "-o", csv] + stores.flatMap { ["--store", $0] }).status == 0)
        let script = """
            import csv, sys
            with open(sys.argv[1], newline='') as f:
                rows = list(csv.DictReader(f))
            assert all(r['message'] and r['datetime'] and r['timestamp_desc'] for r in rows)
            print(len(rows))
            """
        let read = try run("/usr/bin/python3", ["-c", script, csv])
        #expect(read.status == 0 && read.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(total)", "\(read.stderr)")
        #expect(try recoveryctl(["timeline", "export", "--store", dir.path + "/missing"]).status != 0)
    }
}
