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

    @Test("the HTML timeline is one self-contained page that headless Chromium renders with no console message, showing every event; a screenshot is kept",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium"), "needs Debian's chromium"))
    func html() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let count = try recoveryctl(["query", "--store", store, "--format", "jsonl"]).stdout.split(separator: "\n").count
        let page = dir.path + "/timeline.html"
        #expect(try recoveryctl(["timeline", "export", "--store", store, "--format", "html", "-o", page]).status == 0)
        let html = try String(contentsOfFile: page, encoding: .utf8)
        // Self-contained: nothing is fetched.
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains(" src="))

        let chromium = ["--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0", "--user-data-dir=\(dir.path)/profile"]
        let dom = try run("/usr/bin/chromium", chromium + ["--dump-dom", "file://" + page])
        #expect(dom.status == 0)
        #expect(dom.stdout.contains("data-count=\"\(count)\"") && dom.stdout.contains("data-shown=\"\(count)\""))
        #expect(dom.stdout.components(separatedBy: "class=\"ev").count - 1 == count)
        let console = dom.stderr.split(separator: "\n").filter { $0.contains(":CONSOLE(") || $0.contains(":CONSOLE:") }
        #expect(console.isEmpty, "\(console)")

        let artifacts = ObservabilityConfigTests.root.appendingPathComponent(".build/test-artifacts").path
        try FileManager.default.createDirectory(atPath: artifacts, withIntermediateDirectories: true)
        let shot = artifacts + "/timeline.png"
        try? FileManager.default.removeItem(atPath: shot)
        #expect(try run("/usr/bin/chromium", chromium + ["--window-size=1600,900", "--screenshot=" + shot, "file://" + page]).status == 0)
        let png = try Data(contentsOf: URL(fileURLWithPath: shot))
        #expect(png.count > 1_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
    }

    @Test("Timesketch's own readers (read_and_validate_jsonl and _csv, from the timesketch package in a virtualenv here) accept both exports, every row")
    func timesketchReaders() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let count = try recoveryctl(["query", "--store", store, "--format", "jsonl"]).stdout.split(separator: "\n").count
        for format in ["jsonl", "csv"] {
            #expect(try recoveryctl(["timeline", "export", "--store", store, "--format", format, "-o", dir.path + "/timeline." + format]).status == 0)
        }
        let venv = dir.path + "/venv"
        #expect(try run("/usr/bin/python3", ["-m", "venv", venv]).status == 0)
        // timesketch declares none of what its readers import.
        let install = try run(venv + "/bin/pip", ["install", "-q", "timesketch", "pandas", "pyyaml", "python-dateutil", "flask"])
        try #require(install.status == 0, "pip: \(install.stderr)")
        let script = """
            import sys
            from timesketch.lib import utils
            counts = []
            for path, reader in ((sys.argv[1], utils.read_and_validate_jsonl), (sys.argv[2], utils.read_and_validate_csv)):
                with open(path, encoding="utf-8") as f:
                    rows = list(reader(f))
                assert all(r.get("message") and r.get("datetime") and r.get("timestamp_desc") for r in rows)
                counts.append(str(len(rows)))
            print(" ".join(counts))
            """
        let read = try run(venv + "/bin/python", ["-c", script, dir.path + "/timeline.jsonl", dir.path + "/timeline.csv"])
        #expect(read.status == 0 && read.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "\(count) \(count)", "\(read.stdout) \(read.stderr)")
    }
}
