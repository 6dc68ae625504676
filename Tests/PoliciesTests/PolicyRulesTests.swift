import EventStore
import Foundation
import Policies
import TestKit
import Testing

/// The repository's policies directory, from this file's place in it.
let policiesDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("policies").path

func meshPolicy() throws -> PolicyDocument {
    try PolicyDocument(json: Array(try Data(contentsOf: URL(fileURLWithPath: policiesDirectory + "/mesh.json"))))
}

/// 2026-12-04 was a Friday.
func at(_ text: String) -> Timestamp { Timestamp(rfc3339: text) ?? Timestamp(nanoseconds: 0) }

func action(_ kind: String, _ target: String, labels: [String: String] = [:], incident: Int = 0, time: String = "2026-12-02T10:00:00Z") -> PolicyInput {
    .action(id: "act-1", kind: kind, target: target, labels: labels, correlation: "incident-1", incidentActions: incident, at: at(time))
}

@Suite("Policies: the built-in rule language")
struct PolicyRulesTests {
    @Test("a document that breaks the rules is refused with the path and reason of every error")
    func documentErrors() throws {
        let text = """
            {"policy": "bad name!", "extra": 1, "rules": [
              {"id": "a", "effect": "maybe", "when": {"kind": ["teleport"], "target": "node/[ab]"}},
              {"id": "a", "effect": "deny", "when": {"time": {"days": ["funday"], "from": "25:00", "to": "10:00"}, "incident": {"min_actions": -1}}},
              {"effect": "allow", "when": []}
            ]}
            """
        let errors = try #require(throws: DocumentErrors.self) { try PolicyDocument(json: Array(text.utf8)) }
        let found = Set(errors.errors.map(\.path))
        for path in ["$.policy", "$.extra", "$.rules[0].effect", "$.rules[0].when.kind[0]", "$.rules[0].when.target", "$.rules[1].id",
                     "$.rules[1].when.time.days[0]", "$.rules[1].when.time.from", "$.rules[1].when.incident.min_actions", "$.rules[2]", "$.rules[2].when"] {
            #expect(found.contains(path), "no error at \(path): \(errors)")
        }
        #expect(errors.errors.first { $0.path == "$.rules[0].when.kind[0]" }?.reason.contains("unknown action kind teleport") == true)
        #expect(throws: DocumentErrors.self) { try PolicyDocument(json: Array("not json".utf8)) }
        #expect(throws: DocumentErrors.self) { try PolicyDocument(json: Array("{\"policy\": \"p\", \"rules\": []}".utf8)) }
    }

    @Test("deny wins over allow, patterns match targets, labels and SPIFFE IDs, and nothing matching is a deny")
    func evaluation() throws {
        let policy = try meshPolicy()
        let evaluator = RuleEvaluator()
        func decide(_ input: PolicyInput) -> String {
            let d = evaluator.decide(input, policy)
            return "\(d.result) \(d.rule)"
        }
        #expect(decide(action("scale", "service/api", labels: ["to": "3"])) == "allow heal-services")
        #expect(decide(action("quarantine", "node/edge-4")) == "allow isolate-nodes")
        // Deny wins: the target is a node (allowed by isolate-nodes) but a control-plane one.
        #expect(decide(action("quarantine", "node/control-1")) == "deny no-quarantine-of-control-plane")
        #expect(decide(action("scale", "service/api", labels: ["to": "12"])) == "deny scale-at-most-nine")
        #expect(decide(action("switch_route", "route/api")) == "deny default")
        #expect(decide(action("failover", "service/api", incident: 10)) == "deny runaway-incident")
        #expect(decide(action("failover", "service/api", incident: 9)) == "allow heal-services")
        let now = at("2026-12-05T08:00:00Z")
        #expect(decide(.peer(spiffeID: "spiffe://mesh.local/node/a", verdict: "trusted", operation: "sync", at: now)) == "allow mesh-peers")
        #expect(decide(.peer(spiffeID: "spiffe://mesh.local/node/a", verdict: "untrusted", operation: "sync", at: now)) == "deny untrusted-peers")
        #expect(decide(.peer(spiffeID: "spiffe://other.domain/node/a", verdict: "trusted", operation: "sync", at: now)) == "deny default")
        #expect(decide(.peer(spiffeID: "spiffe://mesh.local/node/a", verdict: "trusted", operation: "admin", at: now)) == "deny default")
        #expect(Glob("a*b?c")?.matches("a/x.yb-c") == true && Glob("a*b?c")?.matches("abc") == false && Glob("x[1]") == nil)
    }

    @Test("time windows are UTC, on their days, end-exclusive, and a window past midnight belongs to the day it started")
    func timeWindows() throws {
        let policy = try meshPolicy()
        func failover(_ time: String) -> String { RuleEvaluator().decide(action("failover", "service/api", time: time), policy).rule }
        func scale(_ time: String) -> String { RuleEvaluator().decide(action("scale", "service/api", labels: ["to": "2"], time: time), policy).rule }
        // Friday 16:00 to 23:59.
        #expect(failover("2026-12-04T15:59:59Z") == "heal-services")
        #expect(failover("2026-12-04T16:00:00Z") == "no-failover-friday-evening")
        #expect(failover("2026-12-04T23:58:59Z") == "no-failover-friday-evening")
        #expect(failover("2026-12-04T23:59:00Z") == "heal-services")
        #expect(failover("2026-12-03T17:00:00Z") == "heal-services")
        // Every day 22:00 to 02:00, wrapping.
        #expect(scale("2026-12-02T21:59:00Z") == "heal-services")
        #expect(scale("2026-12-02T22:00:00Z") == "no-scaling-in-backup-window")
        #expect(scale("2026-12-03T01:59:59Z") == "no-scaling-in-backup-window")
        #expect(scale("2026-12-03T02:00:00Z") == "heal-services")
        // A window on Fridays only that wraps: Saturday morning belongs to Friday's window.
        let text = """
            {"policy": "night", "rules": [
              {"id": "friday-night", "effect": "deny", "when": {"time": {"days": ["fri"], "from": "23:00", "to": "01:00"}}},
              {"id": "otherwise", "effect": "allow", "when": {}}]}
            """
        let night = try PolicyDocument(json: Array(text.utf8))
        func rule(_ time: String) -> String { RuleEvaluator().decide(action("scale", "service/api", time: time), night).rule }
        #expect(rule("2026-12-05T00:30:00Z") == "friday-night")
        #expect(rule("2026-12-06T00:30:00Z") == "otherwise")
        #expect(rule("2026-12-04T00:30:00Z") == "otherwise")
        #expect(rule("1969-12-26T23:30:00Z") == "friday-night")
    }
}
