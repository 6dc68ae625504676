import EventStore
import Foundation
import TestKit
import Testing

@Suite("recoveryctl audit")
struct RecoveryctlAuditTests {
    @Test("an action's causal tree: its symptom and the runbook run (fetched by causation), the plan, every attempt and the effect; an incident's tree holds all of its actions")
    func trees() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let audit = try recoveryctl(["audit", "act-sim-1-1", "--store", store, "--format", "json"])
        #expect(audit.status == 0, "\(audit.stderr)")
        let json = try JSONParser.parse(Array(audit.stdout.utf8))
        let roots = json["tree"]?.arrayValue ?? []
        #expect(roots.count == 1 && roots.first?["type"]?.stringValue == "symptom.detected")
        // The symptom started a run of the runbook that answers it; the run planned the action.
        let run = roots.first?["children"]?.arrayValue?.first
        #expect(run?["type"]?.stringValue == "runbook.started")
        let plan = run?["children"]?.arrayValue?.first
        #expect(plan?["type"]?.stringValue == "action.planned")
        let attempts = plan?["children"]?.arrayValue?.compactMap { $0["type"]?.stringValue } ?? []
        #expect(attempts == ["action.started", "action.failed", "action.started", "action.failed", "action.started", "action.succeeded"])

        let incident = try recoveryctl(["audit", "--correlation", "incident-sim-1-1", "--store", store])
        #expect(incident.status == 0 && incident.stdout.hasPrefix("incident incident-sim-1-1\n"))
        let actions = try recoveryctl(["actions", "--store", store]).stdout.split(separator: "\n").filter { $0.contains("incident-sim-1-1") }
        #expect(actions.count >= 4)
        let planned = incident.stdout.split(separator: "\n").filter { $0.contains("action.planned") }
        #expect(planned.count == actions.count)
        #expect(try recoveryctl(["audit", "act-nope", "--store", store]).status == 2)
        #expect(try recoveryctl(["audit", "--store", store]).status == 2)
    }
}
