import EventStore
import Foundation
import TestKit
import Testing

/// tools/prometheus and tools/grafana: checked by promtool, and against the exposition a demo
/// store gives.
@Suite("Dashboard, alerts and scrape configuration")
struct ObservabilityConfigTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static func tool(_ path: String) -> String { root.appendingPathComponent("tools/" + path).path }

    static let panels = ["Mesh Network Health", "MAPE-K Cycle Performance", "Security Events", "Resource Utilization", "Error Rates by Service",
                         "Traces", "Consensus Status", "CRDT Sync Status", "Recovery Actions", "Circuit Breaker Status", "Rate Limiter Status",
                         "Alert Summary", "Runbooks and Policies"]

    /// Every `recovery_*` name in `text`.
    static func metricNames(in text: String) -> Set<String> {
        var names = Set<String>()
        var current = ""
        for character in text.unicodeScalars {
            if CharacterSet.alphanumerics.contains(character) || character == "_" {
                current.unicodeScalars.append(character)
            } else {
                if current.hasPrefix("recovery_") { names.insert(current) }
                current = ""
            }
        }
        if current.hasPrefix("recovery_") { names.insert(current) }
        return names
    }

    /// The dashboard's PromQL expressions.
    static func dashboardExpressions() throws -> [(panel: String, expr: String)] {
        let data = try Data(contentsOf: URL(fileURLWithPath: tool("grafana/recovery-engine.json")))
        let dashboard = try JSONParser.parse(Array(data))
        return (dashboard["panels"]?.arrayValue ?? []).flatMap { panel in
            (panel["targets"]?.arrayValue ?? []).compactMap { target in
                target["expr"]?.stringValue.map { (panel["title"]?.stringValue ?? "?", $0) }
            }
        }
    }

    @Test("promtool checks the rules, runs a unit test for every alert, and checks the scrape configuration")
    func promtool() throws {
        let rules = try run("/usr/bin/promtool", ["check", "rules", Self.tool("prometheus/alerts.yml")])
        #expect(rules.status == 0, "\(rules.stdout) \(rules.stderr)")
        let unit = try run("/usr/bin/promtool", ["test", "rules", Self.tool("prometheus/alerts_test.yml")])
        #expect(unit.status == 0, "\(unit.stdout) \(unit.stderr)")
        let config = try run("/usr/bin/promtool", ["check", "config", Self.tool("prometheus/prometheus.yml")])
        #expect(config.status == 0, "\(config.stdout) \(config.stderr)")
        let alerts = try String(contentsOfFile: Self.tool("prometheus/alerts.yml"), encoding: .utf8)
        let tests = try String(contentsOfFile: Self.tool("prometheus/alerts_test.yml"), encoding: .utf8)
        let names = alerts.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            return trimmed.hasPrefix("- alert: ") ? String(trimmed.dropFirst("- alert: ".count)) : nil
        }
        #expect(names.count == 9)
        for name in names { #expect(tests.contains("alertname: \(name)\n"), "no unit test for \(name)") }
    }

    @Test("the dashboard has the thirteen panels, its variables and a datasource variable; every metric it and the rules name is in the exposition")
    func dashboardAndNames() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.tool("grafana/recovery-engine.json")))
        let dashboard = try JSONParser.parse(Array(data))
        #expect(dashboard["schemaVersion"]?.intValue == 41)
        #expect((dashboard["panels"]?.arrayValue ?? []).compactMap { $0["title"]?.stringValue } == Self.panels)
        let variables = (dashboard["templating"]?["list"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }
        #expect(variables == ["datasource", "node_id", "service"])
        for panel in dashboard["panels"]?.arrayValue ?? [] {
            #expect(panel["datasource"]?["uid"]?.stringValue == "${datasource}")
            #expect((panel["targets"]?.arrayValue ?? []).count >= 1)
        }

        let dir = TemporaryDirectory()
        #expect(try recoveryctl(["demo", "--store", dir.path + "/store"]).status == 0)
        let exposition = try recoveryctl(["metrics", "--store", dir.path + "/store"]).stdout
        let exposed = Self.metricNames(in: exposition)
        let named = Self.metricNames(in: try Self.dashboardExpressions().map(\.expr).joined(separator: " "))
            .union(Self.metricNames(in: try String(contentsOfFile: Self.tool("prometheus/alerts.yml"), encoding: .utf8)))
        #expect(named.count >= 20)
        #expect(named.subtracting(exposed).isEmpty, "named but not exposed: \(named.subtracting(exposed).sorted())")
    }

    @Test("Grafana's own typed models (grafana-foundation-sdk 11.6, in a virtualenv here) parse the dashboard and drop no key on the way back")
    func grafanaModels() throws {
        let dir = TemporaryDirectory()
        let venv = dir.path + "/venv"
        #expect(try run("/usr/bin/python3", ["-m", "venv", venv]).status == 0)
        let install = try run(venv + "/bin/pip", ["install", "-q", "grafana-foundation-sdk==1769699379!11.6.0"])
        try #require(install.status == 0, "pip: \(install.stderr)")
        let check = try run(venv + "/bin/python", [Self.tool("grafana/check_dashboard.py"), Self.tool("grafana/recovery-engine.json")])
        #expect(check.status == 0 && check.stdout.contains("\"panels\": 13") && check.stdout.contains("\"problems\": []"), "\(check.stdout) \(check.stderr)")
    }
}

@Suite("The systemd unit")
struct SystemdUnitTests {
    @Test("systemd-analyze verifies tools/systemd/recoveryctl-serve.service with this build's recoveryctl in its ExecStart",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze"), "needs systemd-analyze"))
    func verifies() throws {
        let dir = TemporaryDirectory()
        let unit = try String(contentsOfFile: ObservabilityConfigTests.tool("systemd/recoveryctl-serve.service"), encoding: .utf8)
        #expect(unit.contains("ExecStart=/usr/local/bin/recoveryctl serve ") && unit.contains("Restart=on-failure") && unit.contains("StateDirectory=recoveryctl"))
        let local = dir.path + "/recoveryctl-serve.service"
        try unit.replacingOccurrences(of: "/usr/local/bin/recoveryctl", with: Executables.recoveryctl).write(toFile: local, atomically: true, encoding: .utf8)
        let verify = try run("/usr/bin/systemd-analyze", ["verify", local])
        #expect(verify.status == 0 && verify.stderr.isEmpty, "\(verify.stderr)")
    }
}
