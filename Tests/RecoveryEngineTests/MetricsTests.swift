import EventStore
import Foundation
import Healing
import MeshSimulation
import Projections
import RecoveryEngine
import TestKit
import Testing

@Suite("Metrics exposition")
struct MetricsTests {
    /// The demo incident's events, as a log to generate from.
    static func demoEvents() async throws -> [Event] {
        let dir = TemporaryDirectory()
        let scenario = DemoScenario(seed: 3)
        let clock = ManualClock(DemoScenario.start)
        let store = try EventStore.open(at: dir.store(), options: scenario.storeOptions(clock: clock))
        defer { store.close() }
        _ = try await scenario.run(store: store, clock: clock, mesh: scenario.makeMesh(clock: clock))
        return try store.read().collect()
    }

    @Test("the metrics projection agrees incrementally, from snapshots and from scratch, over healing, replication, trust and malformed events")
    func deterministic() async throws {
        let demo = try await Self.demoEvents()
        let verdict: EventValue = ["spiffe_id": "spiffe://example.org/a", "serial": "0A", "sha256": "00", "not_before": "2026-01-01T00:00:00Z",
                                   "not_after": "2027-01-01T00:00:00Z", "verdict": "rejected", "reasons": ["revoked_crl"], "checks": ["crl": "failed"]]
        let report = try DeterminismCheck.run(MetricsProjection(), seed: 21, events: 800) { rng, n in
            switch rng.next() % 8 {
            case 0: return NewEvent(type: "crdt.op", stream: "replica/r\(rng.next() % 3)", data: ["x": 1])
            case 1: return NewEvent(type: "crdt.synced", stream: "sync/p", data: ["peer": .string("p\(rng.next() % 2)")])
            case 2: return NewEvent(type: "crdt.gc", stream: "gc", data: ["tombstones_removed": .int(Int64(rng.next() % 5)), "ops_compacted": 2])
            case 3: return NewEvent(type: "cert.verdict", stream: "cert/a", data: verdict)
            case 4: return NewEvent(type: "action.succeeded", stream: "action/bad", data: ["action": 7])  // malformed: counted, skipped
            default:
                let event = demo[n % demo.count]
                return NewEvent(type: event.type, stream: event.stream, data: event.data)
            }
        }
        #expect(report.disagreements.isEmpty, "\(report.disagreements)")
        #expect(report.snapshotsWritten > 0)
    }

    @Test("an engine's actions, breaker, limiter, cycle and symptom show as exact series with HELP and TYPE")
    func exactValues() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 1_795_932_000))
        var options = StoreOptions()
        options.nodeID = "node-a"
        options.clock = clock
        options.vocabularies = [HealingVocabulary()]
        let store = try EventStore.open(at: dir.store(), options: options)
        defer { store.close() }
        var config = HealingConfig(seed: 1, regions: ["eu-west", "eu-central"])
        config.limits.byKind["scale"] = RateLimit(limit: 1, windowSeconds: 60)
        let engine = try await HealingEngine.open(store: store, config: config, actuator: DryRunActuator(), sleeper: ManualSleeper(clock: clock),
                                                  declaring: Topology(replicas: ["api": 2], regions: ["api": "eu-west"]))
        _ = try await engine.run(.scale(service: "api", from: 2, to: 3), reason: "test")
        _ = try await engine.run(.scale(service: "api", from: 3, to: 4), reason: "test")  // over the limit
        try await engine.forceBreaker("service/api", open: true, reason: "drill", by: "ops")
        _ = try await engine.cycle([Observation(service: "api", metric: "availability", value: 0.1)])

        let text = try MetricsSnapshot.read(store: store).render()
        for line in [
            #"recovery_actions_total{node_id="node-a",kind="scale",outcome="succeeded",service="api"} 1"#,
            #"recovery_actions_total{node_id="node-a",kind="scale",outcome="rejected",service="api"} 1"#,
            #"recovery_action_duration_seconds_count{node_id="node-a",kind="scale"} 1"#,
            #"recovery_ratelimit_rejections_total{node_id="node-a",limiter="scale"} 1"#,
            #"recovery_breaker_state{node_id="node-a",breaker="service/api",state="forced_open"} 1"#,
            #"recovery_breaker_state{node_id="node-a",breaker="service/api",state="closed"} 0"#,
            #"recovery_breaker_transitions_total{node_id="node-a",breaker="service/api",to="forced_open"} 1"#,
            #"recovery_mapek_cycle_duration_seconds_count{node_id="node-a"} 1"#,
            #"recovery_symptoms_total{node_id="node-a",symptom="service_unavailable",service="api"} 1"#,
            #"recovery_events_total{node_id="node-a",type="action.succeeded"} 1"#,
        ] {
            #expect(text.contains(line + "\n"), "missing: \(line)")
        }
        // Every family has HELP then TYPE; counters end in _total; every sample carries node_id.
        var families: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if line.hasPrefix("# TYPE ") { families[String(parts[2])] = String(parts[3]) }
            if !line.hasPrefix("#") { #expect(line.contains("node_id=\"node-a\""), "\(line)") }
        }
        #expect(families.count >= 25)
        for (name, kind) in families {
            #expect(text.contains("# HELP \(name) "))
            #expect((kind == "counter") == name.hasSuffix("_total"), "\(name) is a \(kind)")
        }
        // At the first event only the topology declaration exists; store figures are left out.
        let past = try MetricsSnapshot.read(store: store, at: 1).render()
        #expect(past.contains(#"recovery_log_head_seq{node_id="node-a"} 1"#) && !past.contains("recovery_store_bytes"))
        #expect(text.contains("recovery_store_bytes") && text.contains("recovery_index_lag_events"))
    }
}
