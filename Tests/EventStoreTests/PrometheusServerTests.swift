import EventStore
import Foundation
import TestKit
import Testing

/// A real Prometheus server, started here on 127.0.0.1 with its own data directory, scrapes
/// three `recoveryctl serve` nodes that sync with each other; every PromQL expression of the
/// dashboard and the alerts goes through its HTTP API.
@Suite("Prometheus scrapes a served fleet", .serialized)
struct PrometheusServerTests {
    /// A port free a moment ago (Prometheus cannot report one it picked).
    static func freePort() throws -> Int {
        let listener = try SilentListener()
        defer { listener.close() }
        return listener.port
    }

    /// The Grafana variables an expression uses, as a test of the whole fleet sets them.
    static func substituted(_ expr: String) -> String {
        expr.replacingOccurrences(of: "$node_id", with: ".*").replacingOccurrences(of: "$service", with: ".*")
            .replacingOccurrences(of: "$__rate_interval", with: "1m").replacingOccurrences(of: "$__range", with: "5m")
    }

    /// Runs `expr` as an instant query: whether it parsed, and how many series it returned.
    static func query(_ base: String, _ expr: String) -> (parsed: Bool, series: Int, error: String) {
        var components = URLComponents(string: base + "/api/v1/query")
        components?.queryItems = [URLQueryItem(name: "query", value: expr)]
        let answer = http("GET", components?.url?.absoluteString ?? "")
        guard let json = try? JSONParser.parse(answer.body) else { return (false, 0, "HTTP \(answer.status)") }
        let ok = json["status"]?.stringValue == "success"
        return (ok, json["data"]?["result"]?.arrayValue?.count ?? 0, json["error"]?.stringValue ?? "")
    }

    @Test("every dashboard and alert expression parses, every panel returns data after the demo incident, the revoked-certificate alert fires")
    func fleet() throws {
        let dir = TemporaryDirectory()
        let stores = ["a", "b", "c"].map { dir.path + "/" + $0 }
        #expect(try recoveryctl(["demo", "--store", stores[0]]).status == 0)
        for store in stores.dropFirst() { #expect(try recoveryctl(["sync", "vector", "--store", store]).status == 0) }
        var nodes = try stores.map { try ServedNode(store: $0) }
        let ports = nodes.map(\.port), urls = nodes.map(\.url)
        for node in nodes { _ = node.stop() }
        nodes = try stores.indices.map { i in
            try ServedNode(store: stores[i], port: ports[i], arguments: ["--sync-interval", "300ms"] + urls.indices.filter { $0 != i }.flatMap { ["--peer", urls[$0]] })
        }
        defer { for node in nodes { _ = node.stop() } }
        #expect(try recoveryctl(["set", "add", "--store", stores[1], "--map", "mesh", "quarantined", "node-9"]).status == 0)

        let promPort = try Self.freePort()
        let data = dir.path + "/prometheus"
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: ObservabilityConfigTests.tool("prometheus/alerts.yml"), toPath: dir.path + "/alerts.yml")
        let config = """
            global: {scrape_interval: 1s, evaluation_interval: 1s}
            rule_files: [alerts.yml]
            scrape_configs:
              - job_name: recovery-engine
                static_configs:
                  - targets: [\(ports.map { "\"127.0.0.1:\($0)\"" }.joined(separator: ", "))]
            """
        FileManager.default.createFile(atPath: dir.path + "/prometheus.yml", contents: Data(config.utf8))
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prometheus.arguments = ["--config.file=\(dir.path)/prometheus.yml", "--storage.tsdb.path=\(data)",
                                "--web.listen-address=127.0.0.1:\(promPort)", "--log.level=warn"]
        prometheus.standardOutput = FileHandle.nullDevice
        prometheus.standardError = FileHandle.nullDevice
        try prometheus.run()
        defer {
            kill(prometheus.processIdentifier, SIGKILL)
            prometheus.waitUntilExit()
        }
        let base = "http://127.0.0.1:\(promPort)"
        try #require(eventually(60) { Self.query(base, "sum(up) == 3").series == 1 }, "Prometheus never saw the three nodes up")

        // A revoked certificate presented to node a while Prometheus watches.
        let pki = TestPKI()
        try pki.standardChain(leafID: "spiffe://mesh.local/node/node-7")
        let crl = try pki.crl("current", by: "intermediate", revoking: ["leaf"])
        let verify = try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--chain", pki.path("intermediate.pem"), "--store", stores[0],
                                      "--bundle", "mesh.local=" + pki.path("root.pem"), "--crl", crl])
        #expect(verify.status == 1)
        #expect(eventually(60) { Self.query(base, #"ALERTS{alertname="RecoveryCertificateRevoked"}"#).series >= 1 })
        // Two scrapes after the last change, so every rate has two points.
        #expect(eventually(60) { Self.query(base, "min(count_over_time(recovery_log_head_seq[1m])) >= 5").series == 1 })

        let expressions = try ObservabilityConfigTests.dashboardExpressions()
        var empty: [String] = []
        for panel in ObservabilityConfigTests.panels {
            var returned = 0
            for (_, expr) in expressions.filter({ $0.panel == panel }) {
                let result = Self.query(base, Self.substituted(expr))
                #expect(result.parsed, "\(panel): \(expr): \(result.error)")
                returned += result.series
            }
            if returned == 0 { empty.append(panel) }
        }
        #expect(empty.isEmpty, "panels without data: \(empty)")
        let rules = try String(contentsOfFile: ObservabilityConfigTests.tool("prometheus/alerts.yml"), encoding: .utf8)
        let ruleExpressions = Self.ruleExpressions(rules)
        #expect(ruleExpressions.count == 9)
        for expr in ruleExpressions {
            let result = Self.query(base, expr)
            #expect(result.parsed, "\(expr): \(result.error)")
        }
    }

    /// The `expr:` of every rule, single-line or folded (`|`).
    static func ruleExpressions(_ yaml: String) -> [String] {
        var found: [String] = []
        let lines = yaml.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var index = 0
        while index < lines.count {
            let trimmed = lines[index].trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("expr:") {
                let rest = trimmed.dropFirst("expr:".count).trimmingCharacters(in: .whitespaces)
                if rest == "|" {
                    var body: [String] = []
                    index += 1
                    while index < lines.count, lines[index].hasPrefix("          ") {
                        body.append(lines[index].trimmingCharacters(in: .whitespaces))
                        index += 1
                    }
                    found.append(body.joined(separator: " "))
                    continue
                }
                found.append(rest)
            }
            index += 1
        }
        return found
    }
}
