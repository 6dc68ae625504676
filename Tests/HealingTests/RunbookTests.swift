import EventStore
import Foundation
import Healing
import Projections
import TestKit
import Testing

let runbooksDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("runbooks").path

func shippedRunbooks() throws -> [RunbookDocument] {
    try FileManager.default.contentsOfDirectory(atPath: runbooksDirectory).filter { $0.hasSuffix(".json") && !$0.hasSuffix(".schema.json") }.sorted()
        .map { try RunbookDocument(json: Array(try Data(contentsOf: URL(fileURLWithPath: runbooksDirectory + "/" + $0)))) }
}

@Suite("Runbooks")
struct RunbookTests {
    @Test("the default runbooks are the documents of runbooks/, and every shipped runbook's own test cases pass")
    func shipped() async throws {
        let files = try shippedRunbooks()
        #expect(files.count == 5)
        #expect(Set(files) == Set(RunbookDocument.defaults))
        for runbook in files {
            let dir = TemporaryDirectory()
            let results = try await RunbookTester.run(runbook, in: dir.path)
            #expect(!results.isEmpty)
            for result in results { #expect(result.passed, "\(runbook.name) / \(result.name): planned \(result.actions), expected \(result.expected)") }
        }
    }
}

func runbook(_ text: String) throws -> RunbookDocument { try RunbookDocument(json: Array(text.utf8)) }

/// A store and an engine with `runbooks` as its only runbooks, the topology declared.
struct RunbookBench {
    let dir = TemporaryDirectory()
    let clock = ManualClock(Timestamp(seconds: 1_795_932_000))
    let store: EventStore
    let engine: HealingEngine

    init(_ runbooks: [RunbookDocument], topology: Topology, failing: Set<String> = [], regions: [String] = ["eu-west", "eu-central"]) async throws {
        var options = StoreOptions()
        options.clock = clock
        options.replicaID = "rb"
        options.vocabularies = [HealingVocabulary()]
        store = try EventStore.open(at: dir.store(), options: options)
        var config = HealingConfig(seed: 1, regions: regions)
        config.runbooks = runbooks
        engine = try await HealingEngine.open(store: store, config: config, actuator: FailingActuator(failing: failing),
                                              sleeper: ManualSleeper(clock: clock), declaring: topology)
    }

    func cycle(_ observations: [Observation]) async throws -> [Action] {
        let report = try await engine.cycle(observations)
        clock.advance(nanoseconds: 5_000_000_000)
        return report.actions.map(\.action)
    }

    func events(_ type: String) throws -> [Event] { try store.query(EventQuery(type: type)).collect() }
}

/// Does nothing, except fail (without a retry) every action whose target is in `failing`.
struct FailingActuator: Actuator {
    let failing: Set<String>
    func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action {
        if failing.contains(action.target) { throw ActuatorFailure("\(action.target) is down", retryable: false) }
        return action
    }
}

func errors(_ service: String, _ value: Double = 0.9) -> Observation { Observation(service: service, metric: "error_rate", value: value) }

@Suite("Runbooks: documents, matching, execution, versions")
struct RunbookExecutionTests {
    @Test("a document that breaks the schema is refused with the path and reason of every error")
    func schemaErrors() throws {
        let text = """
            {"runbook": "bad name", "match": {"symptom": "x", "on": "sometimes", "labels": {"zone": "a"}, "threshold": {"above": "high"}},
             "steps": [{"action": "teleport", "params": {}},
                       {"action": "scale", "params": {"service": "{{servce}}", "from": "{{replicas}}"}, "on_failure": "retry", "timeout_s": 0},
                       {"action": "release", "params": {"node": {"x": 1}}}],
             "limits": {"max_concurrent": 0}, "tests": [{"name": "t", "symptom": "x"}], "owner": "ops"}
            """
        let errors = try #require(throws: DocumentErrors.self) { try runbook(text) }
        let paths = Set(errors.errors.map(\.path))
        for path in ["$.runbook", "$.owner", "$.match.on", "$.match.labels.zone", "$.match.threshold.above", "$.steps[0].action",
                     "$.steps[1].params.service", "$.steps[1].params", "$.steps[1].on_failure", "$.steps[1].timeout_s",
                     "$.steps[2].params.node", "$.limits.max_concurrent", "$.tests[0]"] {
            #expect(paths.contains(path), "no error at \(path): \(errors)")
        }
        #expect(errors.errors.contains { $0.path == "$.steps[1].params.service" && $0.reason.contains("unknown template variable servce") })
        #expect(errors.errors.contains { $0.path == "$.steps[1].params" && $0.reason == "scale needs param to" })
    }

    @Test("matching on labels, thresholds and quarantine; templates from the symptom and the topology, integers where the template is alone")
    func matchingAndTemplating() async throws {
        let narrow = try runbook("""
            {"runbook": "scale-big-errors-on-svc", "match": {"symptom": "high_error_rate", "labels": {"service": "svc-*"}, "threshold": {"above": 0.5}},
             "steps": [{"action": "scale", "params": {"service": "{{service}}", "from": "{{replicas}}", "to": "{{replicas+2}}"}}]}
            """)
        let bench = try await RunbookBench([narrow], topology: Topology(replicas: ["svc-1": 2, "api": 3, "svc-2": 4]))
        // api does not match the label, svc-2's 0.3 is under the threshold, svc-1 matches.
        #expect(try await bench.cycle([errors("api"), errors("svc-2", 0.3), errors("svc-1", 0.8)]) == [.scale(service: "svc-1", from: 2, to: 4)])
        #expect(RunbookTemplate.render("{{replicas+1}}", scope: ["replicas": 3]) == .int(4))
        #expect(RunbookTemplate.render("to {{service}} x{{replicas-1}}", scope: ["service": "db", "replicas": 3]) == .string("to db x2"))
        #expect(RunbookTemplate.render("{{next_region}}", scope: ["service": "db"]) == nil)
        #expect(RunbookTemplate.problem(in: "{{region+1}}") != nil && RunbookTemplate.problem(in: "{{service") != nil)
        // A symptom whose template has no value (no replica count for ghost) plans nothing.
        #expect(try await bench.cycle([errors("svc-ghost", 0.9)]) == [])
    }

    @Test("a failed step stops the run, continues to the next, or rolls back the steps before it, as the step says; runbook.started and finished record it")
    func failureModes() async throws {
        func threeSteps(_ mode: String) throws -> RunbookDocument {
            try runbook("""
                {"runbook": "heal-\(mode)", "match": {"symptom": "high_error_rate"},
                 "steps": [{"action": "scale", "params": {"service": "{{service}}", "from": "{{replicas}}", "to": "{{replicas+1}}"}},
                           {"action": "failover", "params": {"service": "db", "from_region": "eu-west", "to_region": "eu-central"}, "on_failure": "\(mode)"},
                           {"action": "quarantine", "params": {"node": "edge-9", "reason": "runbook"}}]}
                """)
        }
        let topology = Topology(replicas: ["api": 2], regions: ["db": "eu-west"])
        var outcomes: [String: (actions: [Action], outcome: String?)] = [:]
        for mode in ["stop", "continue", "rollback"] {
            let bench = try await RunbookBench([try threeSteps(mode)], topology: topology, failing: ["service/db"])
            let actions = try await bench.cycle([errors("api")])
            outcomes[mode] = (actions, try bench.events(RunbookEvent.finished).first?.data["outcome"]?.stringValue)
            let started = try #require(try bench.events(RunbookEvent.started).first)
            #expect(started.data["runbook"] == .string("heal-\(mode)") && started.data["steps"] == 3)
            // Every step's plan is caused by the run, the run by the symptom.
            for planned in try bench.events(HealingEvent.actionPlanned) { #expect(planned.causation == started.id) }
            #expect(try bench.store.event(id: started.causation ?? "")?.type == HealingEvent.symptomDetected)
            if mode == "rollback" { #expect(await bench.engine.topology.replicas["api"] == 2) } else { #expect(await bench.engine.topology.replicas["api"] == 3) }
        }
        let scale = Action.scale(service: "api", from: 2, to: 3), failover = Action.failover(service: "db", fromRegion: "eu-west", toRegion: "eu-central")
        #expect(outcomes["stop"]?.actions == [scale, failover] && outcomes["stop"]?.outcome == "failed")
        #expect(outcomes["continue"]?.actions == [scale, failover, .quarantine(node: "edge-9", reason: "runbook")] && outcomes["continue"]?.outcome == "failed")
        #expect(outcomes["rollback"]?.actions.count == 3 && outcomes["rollback"]?.actions.last?.kind == .scale && outcomes["rollback"]?.outcome == "rolled_back")
    }

    @Test("at most max_concurrent runs of a runbook per cycle (the rest wait for the next), and none for a subject within its cool-down")
    func limits() async throws {
        let limited = try runbook("""
            {"runbook": "scale-limited", "match": {"symptom": "high_error_rate"},
             "steps": [{"action": "scale", "params": {"service": "{{service}}", "from": "{{replicas}}", "to": "{{replicas+1}}"}}],
             "limits": {"max_concurrent": 2, "cooldown_s": 60}}
            """)
        let bench = try await RunbookBench([limited], topology: Topology(replicas: ["a": 1, "b": 1, "c": 1]), failing: ["service/a"])
        #expect(try await bench.cycle([errors("a"), errors("b"), errors("c")]).map(\.target) == ["service/a", "service/b"])
        // a failed and is still unanswered, but in its cool-down; c's turn comes.
        #expect(try await bench.cycle([]).map(\.target) == ["service/c"])
        #expect(try await bench.cycle([]).isEmpty)
        bench.clock.advance(nanoseconds: 60_000_000_000)
        #expect(try await bench.cycle([]).map(\.target) == ["service/a"])
    }

    @Test("publishing and activating a version changes what a running engine plans from its next cycle; activating the older version rolls it back")
    func versionsInTheLoop() async throws {
        let bench = try await RunbookBench(RunbookDocument.defaults, topology: Topology(replicas: ["api": 2]))
        let library = try RunbookLibrary(store: bench.store)
        func incident() async throws -> [Action] {
            let actions = try await bench.cycle([errors("api")])
            _ = try await bench.cycle([errors("api", 0.0)])
            return actions
        }
        #expect(try await incident() == [.scale(service: "api", from: 2, to: 3)])
        let shipped = try #require(RunbookDocument.defaults.first { $0.name == "scale-erroring-service" })
        let byTwo = try runbook("""
            {"runbook": "scale-erroring-service", "match": {"symptom": "high_error_rate"},
             "steps": [{"action": "scale", "params": {"service": "{{service}}", "from": "{{replicas}}", "to": "{{replicas+2}}"}}]}
            """)
        #expect(try library.publish(shipped) == (1, true))
        #expect(try library.publish(byTwo) == (2, true))
        #expect(try library.publish(byTwo) == (2, false))
        try library.activate("scale-erroring-service", version: 2)
        #expect(try await incident() == [.scale(service: "api", from: 3, to: 5)])
        // The rollback of a runbook is the activation of its older version.
        try library.activate("scale-erroring-service", version: 1)
        #expect(try await incident() == [.scale(service: "api", from: 5, to: 6)])
        let runs = try bench.events(RunbookEvent.started).map { $0.data["version"]?.intValue }
        #expect(runs == [0, 2, 1])
        #expect(try library.runbooks()["scale-erroring-service"]?.active == 1)
        #expect(throws: HealingError.self) { try library.activate("scale-erroring-service", version: 3) }
    }

    @Test("a run the log shows started and never finished is concluded as interrupted when the agent opens again")
    func interruptedRun() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 1_795_932_000))
        var options = StoreOptions()
        options.clock = clock
        let store = try EventStore.open(at: dir.store(), options: options)
        defer { store.close() }
        _ = try store.appendBlocking([NewEvent(type: RunbookEvent.started, stream: RunbookEvent.runStream("scale-erroring-service"),
                                               data: ["runbook": "scale-erroring-service", "version": 0, "run": "run-x-1", "symptom": "k", "steps": 1])])
        _ = try await HealingEngine.open(store: store, config: HealingConfig(), actuator: DryRunActuator(), sleeper: ManualSleeper(clock: clock))
        let finished = try store.query(EventQuery(type: RunbookEvent.finished)).collect()
        #expect(finished.count == 1 && finished.first?.data["run"] == "run-x-1" && finished.first?.data["outcome"] == "interrupted")
    }
}

@Suite("Runbooks: the projection")
struct RunbooksProjectionTests {
    @Test("the runbooks projection passes the determinism check over versions, activations, runs and malformed events")
    func determinism() throws {
        let documents = RunbookDocument.defaults.prefix(2).map(\.source)
        let report = try DeterminismCheck.run(RunbooksProjection(), seed: 18, events: 600) { rng, n in
            let name = rng.next() % 2 == 0 ? "failover-unavailable-service" : "scale-erroring-service"
            let version = Int64(rng.next() % 3) + 1
            switch rng.next() % 5 {
            case 0:
                let document = documents[Int(rng.next() % 2)]
                let sha = VersionedDocuments.sha256(document)?.hex ?? ""
                return NewEvent(type: RunbookEvent.published, stream: RunbookEvent.stream(name),
                                data: ["runbook": .string(name), "version": .int(version), "sha256": .string(rng.next() % 4 == 0 ? "bad" : sha), "document": document])
            case 1:
                return NewEvent(type: RunbookEvent.activated, stream: RunbookEvent.stream(name), data: ["runbook": .string(name), "version": .int(version)])
            case 2:
                return NewEvent(type: RunbookEvent.started, stream: RunbookEvent.runStream(name),
                                data: ["runbook": .string(name), "version": .int(version), "run": .string("run-\(n % 7)"), "symptom": .string("k\(n % 3)")])
            case 3:
                return NewEvent(type: RunbookEvent.finished, stream: RunbookEvent.runStream(name),
                                data: ["runbook": .string(name), "run": .string("run-\(n % 7)"), "outcome": rng.next() % 2 == 0 ? "succeeded" : "failed"])
            default:
                return NewEvent(type: RunbookEvent.started, stream: RunbookEvent.runStream(name), data: ["runbook": .int(3)])
            }
        }
        #expect(report.disagreements.isEmpty)
    }
}
