import EventStore
import Foundation
import Policies
import TestKit
import Testing

/// tools/opa/data_api.py on 127.0.0.1: OPA's Data API around OPA's engine, or a fixed answer.
final class DataAPIServer: @unchecked Sendable {
    // @unchecked: set up once in init, then only stopped.
    let process = Process()
    let url: URL

    static let script = URL(fileURLWithPath: policiesDirectory).deletingLastPathComponent().appendingPathComponent("tools/opa/data_api.py").path

    init(python: String, _ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [Self.script] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        guard let line = firstLine(of: output, within: 30), let port = line.split(separator: " ").last.flatMap({ Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }),
              let url = URL(string: "http://127.0.0.1:\(port)") else {
            kill(process.processIdentifier, SIGKILL)
            throw POSIXError(.ECONNREFUSED)
        }
        self.url = url
    }

    /// SIGKILL: a child inherits the test runner's ignored signals, SIGTERM among them.
    func stop() {
        kill(process.processIdentifier, SIGKILL)
        _ = waitForExit(process, within: 10)
    }
}

@Suite("Policies: Open Policy Agent")
struct OPATests {
    static let decisionPath = "recovery/mesh/decision"

    func published() throws -> PublishedPolicy {
        PublishedPolicy(name: "mesh", version: 1, sha256: .zero, document: try meshPolicy())
    }

    @Test("the OPA client fails closed, and says why, when OPA is unreachable, silent past the timeout, answers non-200, leaves the decision undefined or answers something that is not JSON")
    func failClosed() async throws {
        let input = action("scale", "service/api", labels: ["to": "2"])
        let policy = try published()
        func decide(_ url: URL, timeout: Double = 2) async -> PolicyDecision {
            await OPAEvaluator(server: url, path: Self.decisionPath, timeoutSeconds: timeout).decide(input, under: policy)
        }
        let closed = try SilentListener()
        let closedURL = try #require(URL(string: "http://127.0.0.1:\(closed.port)"))
        closed.close()
        #expect(await decide(closedURL).rule == "opa_unreachable")

        let silent = try SilentListener()
        defer { silent.close() }
        let started = Date()
        let timedOut = await decide(try #require(URL(string: "http://127.0.0.1:\(silent.port)")), timeout: 0.5)
        #expect(timedOut.rule == "opa_unreachable" && !timedOut.allowed && Date().timeIntervalSince(started) < 10)

        let answers: [(status: String, body: String, rule: String)] = [
            ("500", #"{"code":"internal_error"}"#, "opa_status"), ("404", "{}", "opa_status"),
            ("200", "{}", "opa_undefined"), ("200", "not json", "opa_malformed"),
            ("200", #"{"result": {"allow": "yes"}}"#, "opa_malformed"), ("200", #"{"result": true}"#, "opa_malformed"),
        ]
        for answer in answers {
            let server = try await offThePool { try DataAPIServer(python: "/usr/bin/python3", ["--fixed", answer.status, answer.body]) }
            defer { server.stop() }
            let decision = await decide(server.url)
            #expect(!decision.allowed && decision.rule == answer.rule && decision.error != nil, "\(answer): \(decision)")
        }

        // Through the book, the failure is recorded with the decision.
        let dir = TemporaryDirectory()
        let store = try EventStore.open(at: dir.store())
        defer { store.close() }
        let book = try PolicyBook(store: store, evaluator: OPAEvaluator(server: closedURL, path: Self.decisionPath))
        try book.publish(try meshPolicy())
        try book.activate("mesh", version: 1)
        #expect(try await book.decideAndRecord(input, policy: "mesh").allowed == false)
        let recorded = try #require(try store.query(EventQuery(type: PolicyEvent.decision)).collect().last)
        #expect(recorded.data["evaluator"] == "opa" && recorded.data["rule"] == "opa_unreachable" && recorded.data["result"] == "deny")
        #expect(recorded.data["error"]?.stringValue?.isEmpty == false)
    }

    @Test("OPA's own engine, serving policies/mesh.rego, decides exactly as the built-in rules over a seeded set of inputs")
    func sameDecisions() async throws {
        let dir = TemporaryDirectory()
        let venv = dir.path + "/venv"
        let created = try await offThePool { try run("/usr/bin/python3", ["-m", "venv", venv]) }
        if created.status != 0 { try Test.cancel("no virtualenv for OPA's engine: \(created.stderr)") }
        let install = try await offThePool { try run(venv + "/bin/pip", ["install", "-q", "--ignore-requires-python", "opa-golib-python-bindings==0.4.4"]) }
        if install.status != 0 { try Test.cancel("cannot install opa-golib-python-bindings 0.4.4 here: \(install.stderr.suffix(400))") }
        let server = try await offThePool { try DataAPIServer(python: venv + "/bin/python", [policiesDirectory + "/mesh.rego"]) }
        defer { server.stop() }
        let opa = OPAEvaluator(server: server.url, path: Self.decisionPath, timeoutSeconds: 10)
        let policy = try published()

        var random = SplitMix64(seed: UInt64(ProcessInfo.processInfo.environment["RECOVERY_PROPERTY_SEED"] ?? "") ?? 18)
        let count = Int(ProcessInfo.processInfo.environment["RECOVERY_OPA_INPUTS"] ?? "") ?? 400
        var rules = Set<String>()
        for index in 0..<count {
            let input = Self.randomInput(&random)
            let builtin = RuleEvaluator().decide(input, policy.document)
            let answered = await opa.decide(input, under: policy)
            #expect(answered == builtin, "input \(index) \(JSONWriter.encode(input.value)): OPA \(answered), built-in \(builtin)")
            rules.insert(builtin.rule)
        }
        // The inputs reach every rule of the policy, and the default.
        #expect(rules == Set(policy.document.rules.map(\.id) + ["default"]), "\(rules)")

        // Undefined for real: a path no policy defines.
        let undefined = await OPAEvaluator(server: server.url, path: "recovery/nothing/decision").decide(action("scale", "service/api"), under: policy)
        #expect(undefined.rule == "opa_undefined")
    }

    /// An action or peer question with values that hit every rule's edges: targets that match
    /// and almost match, replica counts of one and two digits, times around each window.
    static func randomInput(_ random: inout SplitMix64) -> PolicyInput {
        func pick<T>(_ items: [T]) -> T { items[Int(random.next() % UInt64(items.count))] }
        // Minutes of a week from Monday 2026-11-30 00:00 UTC, often near a window's edge.
        let edges = [0, 120, 959, 960, 1_320, 1_438, 1_439, 1_440]
        let day = Int(random.next() % 7)
        let minute = random.next() % 3 == 0 ? Int(random.next() % 1_440) : pick(edges) + pick([-1, 0, 1])
        let seconds = Int64(1_795_996_800) + Int64(day * 86_400 + minute * 60) + Int64(random.next() % 60)
        let time = Timestamp(nanoseconds: seconds * 1_000_000_000)
        if random.next() % 4 == 0 {
            return .peer(spiffeID: pick(["spiffe://mesh.local/node/a", "spiffe://mesh.local/node/", "spiffe://mesh.locals/node/b", "spiffe://other/node/a"]),
                         verdict: pick(["trusted", "untrusted", "unknown"]), operation: pick(["sync", "route", "admit", "admin", ""]), at: time)
        }
        let kind = pick(["switch_route", "scale", "failover", "quarantine", "release"])
        let target = pick(["service/api", "service/", "services/api", "node/edge-1", "node/control-1", "node/control", "route/api"])
        var labels: [String: String] = [:]
        if random.next() % 2 == 0 { labels["to"] = pick(["1", "9", "10", "123", ""]) }
        return .action(id: "act-\(random.next() % 100)", kind: kind, target: target, labels: labels, correlation: "incident-1",
                       incidentActions: pick([0, 3, 9, 10, 11]), at: time)
    }
}
