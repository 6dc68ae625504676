import EventStore
import Foundation
import Healing
import Policies
import RecoveryEngine
import TestKit
import Testing

@Suite("Policies: versions in the log, decisions, replay")
struct PolicyBookTests {
    static func denyScaling(_ version: String) throws -> PolicyDocument {
        let text = """
            {"policy": "mesh", "description": "\(version)", "rules": [
              {"id": "no-scaling", "effect": "deny", "when": {"kind": ["scale"]}},
              {"id": "heal-services", "effect": "allow", "when": {"subject": "action", "target": "service/*"}}]}
            """
        return try PolicyDocument(json: Array(text.utf8))
    }

    @Test("publish assigns versions (the same document twice is one version), activate picks the one in force, an older one rolls back, and the log answers which was in force when")
    func versions() throws {
        let dir = TemporaryDirectory()
        let store = try EventStore.open(at: dir.store())
        defer { store.close() }
        let book = try PolicyBook(store: store)
        #expect(try book.publish(try meshPolicy()) == (1, true))
        #expect(try book.publish(try meshPolicy()) == (1, false))
        #expect(try book.publish(try Self.denyScaling("v2")) == (2, true))
        #expect(try book.active("mesh") == nil)
        try book.activate("mesh", version: 1)
        let firstActive = try store.head().seq
        try book.activate("mesh", version: 2)
        #expect(try book.active("mesh")?.version == 2)
        try book.activate("mesh", version: 1)
        #expect(try book.active("mesh")?.version == 1)
        #expect(try book.policies(at: firstActive)["mesh"]?.active == 1)
        #expect(try book.policies(at: firstActive + 1)["mesh"]?.active == 2)
        #expect(throws: PolicyError.self) { try book.activate("mesh", version: 3) }
        #expect(throws: PolicyError.self) { try book.activate("nothing", version: 1) }
        let published = try store.query(EventQuery(type: PolicyEvent.published)).collect()
        #expect(published.count == 2 && published.allSatisfy { $0.data["sha256"]?.stringValue?.count == 64 })
    }

    @Test("each decision is a policy.decision with the version, input, result and rule; replay against another version prints what would have changed")
    func decisionsAndReplay() async throws {
        let dir = TemporaryDirectory()
        let store = try EventStore.open(at: dir.store())
        defer { store.close() }
        let book = try PolicyBook(store: store)
        // Nothing active: fail closed.
        #expect(try await book.decideAndRecord(action("scale", "service/api", labels: ["to": "2"]), policy: "mesh").rule == "no_active_policy")
        try book.publish(try meshPolicy())
        try book.publish(try Self.denyScaling("v2"))
        try book.activate("mesh", version: 1)
        let inputs = [action("scale", "service/api", labels: ["to": "2"]), action("quarantine", "node/edge-1"), action("failover", "service/db")]
        for input in inputs { #expect(try await book.decideAndRecord(input, policy: "mesh").allowed) }
        let recorded = try store.query(EventQuery(type: PolicyEvent.decision)).collect()
        #expect(recorded.count == 4)
        let last = try #require(recorded.last)
        #expect(last.data["version"] == 1 && last.data["result"] == "allow" && last.data["rule"] == "heal-services" && last.data["evaluator"] == "builtin")
        #expect(last.data["input"].flatMap(PolicyInput.init(value:)) == inputs[2])
        #expect(last.correlation == "incident-1")

        let replayed = try await book.replay("mesh", against: 2)
        #expect(replayed.count == 4)
        let changed = replayed.filter(\.changed)
        // Version 2 denies scaling, and allows only services: the node's quarantine changes too.
        #expect(changed.map(\.input.kind) == ["scale", "quarantine"])
        #expect(changed.map(\.replayed.rule) == ["no-scaling", "default"] && changed.map(\.recordedRule) == ["heal-services", "isolate-nodes"])
        // The decision made with no active version stays a deny under version 2 as well.
        #expect(replayed.first?.recordedRule == "no_active_policy" && replayed.first?.changed == false)
        await #expect(throws: PolicyError.self) { try await book.replay("mesh", against: 9) }
    }

    @Test("a running engine applies a newly activated version on its next action, with no restart; a denied action is action.rejected policy_denied with the version")
    func engineGate() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(at("2026-12-02T10:00:00Z"))
        var configuration = EngineConfiguration()
        configuration.store.clock = clock
        configuration.actionPolicy = "mesh"
        let engine = try await RecoveryEngine.open(at: dir.store(), configuration: configuration, actuator: DryRunActuator(),
                                                   sleeper: ManualSleeper(clock: clock))
        defer { engine.close() }
        let book = try PolicyBook(store: engine.store)
        // Nothing published yet: fail closed.
        #expect(try await engine.healing.run(.scale(service: "api", from: 2, to: 3), reason: "test") == .rejected(reason: "policy_denied"))
        try book.publish(try meshPolicy())
        try book.activate("mesh", version: 1)
        #expect(try await engine.healing.run(.scale(service: "api", from: 2, to: 3), reason: "test").isSucceeded)
        #expect(try await engine.healing.run(.quarantine(node: "control-1", reason: "test"), reason: "test") == .rejected(reason: "policy_denied"))

        // Version 2 forbids scaling; the same engine, next cycle, obeys it.
        try book.publish(try Self.denyScaling("v2"))
        try book.activate("mesh", version: 2)
        #expect(try await engine.healing.run(.scale(service: "api", from: 3, to: 4), reason: "test") == .rejected(reason: "policy_denied"))
        let rejected = try engine.store.query(EventQuery(type: "action.rejected")).collect().last
        #expect(rejected?.data["reason"] == "policy_denied" && rejected?.data["policy"] == "mesh" && rejected?.data["policy_version"] == 2
                && rejected?.data["rule"] == "no-scaling")
        // The decision is committed with the action's plan, before its rejection.
        let stream = try engine.store.read(from: try engine.store.head().seq - 2).collect().map(\.type)
        #expect(stream == ["action.planned", "policy.decision", "action.rejected"])

        // A rollback of the policy is another activation: scaling is allowed again.
        try book.activate("mesh", version: 1)
        clock.advance(nanoseconds: 3_600_000_000_000)
        let report = try await engine.healing.cycle([Observation(node: "edge-2", metric: "availability", value: 0.1)])
        #expect(report.actions.map(\.outcome.isSucceeded) == [true])
    }
}

@Suite("Policies: peers")
struct PolicyPeerTests {
    @Test("an action that routes to a node or lets it back in also asks whether that peer may be trusted for it: an untrusted or unknown peer is policy_denied, both decisions recorded")
    func peerQuestion() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(at("2026-12-02T10:00:00Z"))
        var options = StoreOptions()
        options.clock = clock
        options.replicaID = "p"
        let store = try EventStore.open(at: dir.store(), options: options)
        defer { store.close() }
        let book = try PolicyBook(store: store)
        try book.publish(try meshPolicy())
        try book.activate("mesh", version: 1)
        let verdicts = ["node-a": "trusted", "node-b": "untrusted"]
        var config = HealingConfig(seed: 1)
        config.actionPolicy = PolicyGate(book: book, policy: "mesh") { node, _ in ("spiffe://mesh.local/node/\(node)", verdicts[node] ?? "unknown") }
        let engine = try await HealingEngine.open(store: store, config: config, actuator: DryRunActuator(), sleeper: ManualSleeper(clock: clock),
                                                  declaring: Topology(routes: ["api": "node-c"], quarantined: ["node-a", "node-b", "node-c"]))
        #expect(try await engine.run(.switchRoute(destination: "api", from: "node-c", to: "node-a"), reason: "test").isSucceeded == false)
        // switch_route targets route/api, which no allow rule covers: denied before the peer is asked.
        #expect(try store.query(EventQuery(type: PolicyEvent.decision)).collect().last?.data["rule"] == "default")
        #expect(try await engine.run(.release(node: "node-a"), reason: "test").isSucceeded)
        #expect(try await engine.run(.release(node: "node-b"), reason: "test") == .rejected(reason: "policy_denied"))
        #expect(try await engine.run(.release(node: "node-c"), reason: "test") == .rejected(reason: "policy_denied"))
        let decisions = try store.query(EventQuery(type: PolicyEvent.decision)).collect().suffix(6)
        #expect(decisions.map { $0.data["input"]?["subject"]?.stringValue } == ["action", "peer", "action", "peer", "action", "peer"])
        #expect(decisions.map { $0.data["rule"]?.stringValue } == ["isolate-nodes", "mesh-peers", "isolate-nodes", "untrusted-peers", "isolate-nodes", "untrusted-peers"])
        #expect(decisions.last?.data["input"]?["peer"]?["spiffe_id"] == "spiffe://mesh.local/node/node-c" && decisions.last?.data["action"] != nil)
        let rejected = try store.query(EventQuery(type: "action.rejected")).collect().last
        #expect(rejected?.data["rule"] == "untrusted-peers")
    }
}

extension ActionOutcome {
    var isSucceeded: Bool { if case .succeeded = self { return true } else { return false } }
}

@Suite("Policies: the projection")
struct PoliciesProjectionTests {
    @Test("the policies projection passes the determinism check, over valid, duplicate, unknown-version and forged (wrong SHA-256) events")
    func determinism() throws {
        let documents = try [meshPolicy(), PolicyBookTests.denyScaling("v2"), PolicyBookTests.denyScaling("v3")].map(\.source)
        let report = try DeterminismCheck.run(PoliciesProjection(), seed: 18, events: 600) { rng, n in
            let version = Int64(rng.next() % 4) + 1
            if rng.next() % 3 == 0 {
                return NewEvent(type: PolicyEvent.activated, stream: "policy/mesh", data: ["policy": "mesh", "version": .int(version)])
            }
            let document = documents[Int(rng.next() % 3)]
            let sha = (try? Digest.sha256(Array(JSONWriter.encode(document).utf8)).hex) ?? ""
            let forged = rng.next() % 5 == 0
            return NewEvent(type: PolicyEvent.published, stream: "policy/mesh",
                            data: ["policy": "mesh", "version": .int(version), "sha256": .string(forged ? String(sha.reversed()) : sha), "document": document])
        }
        #expect(report.disagreements.isEmpty)
    }
}
