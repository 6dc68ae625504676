import EventStore

/// A runbook chosen for a symptom, with its steps' actions already templated.
struct PlannedRun {
    var runbook: RunbookDocument
    /// The version in force from the log; nil for a runbook of the agent's configuration.
    var version: Int?
    var actions: [Action]
    var context: PlanContext
}

/// Where a step belongs, for its `action.planned` event and its retry budget.
struct RunStep: Sendable {
    var runbook: String
    var run: String
    var step: Int
    var budgetMilliseconds: Int
}

extension HealingEngine {
    /// The runbooks the plan phase uses: the configuration's, each replaced by the version
    /// active in the log under the same name, and every other runbook active in the log, by
    /// name. A runbook published or activated by another process applies from the next cycle.
    func effectiveRunbooks() -> [(RunbookDocument, Int?)] {
        var byName: [String: (RunbookDocument, Int?)] = [:]
        for runbook in config.runbooks { byName[runbook.name] = (runbook, nil) }
        for (name, stored) in knowledge.runbooks.runbooks {
            if let document = stored.activeRunbook { byName[name] = (document, stored.active) }
        }
        return byName.keys.sorted().compactMap { byName[$0] }
    }

    /// Runs one runbook: `runbook.started` (caused by the symptom), each step's action caused
    /// by it, a failed step handled as the step says, then `runbook.finished` with the outcome
    /// (succeeded, failed or rolled_back).
    func execute(_ run: PlannedRun) async throws(HealingError) -> [(id: String, action: Action, outcome: ActionOutcome)] {
        let runID = "run-\(store.replicaID)-\(knowledge.runbooks.runs.addingSaturated(1))"
        let name = run.runbook.name
        var started: [String: EventValue] = ["runbook": .string(name), "version": .int(Int64(run.version ?? 0)), "run": .string(runID),
                                             "symptom": .string(run.context.symptomKey ?? ""), "steps": .int(Int64(run.actions.count))]
        if run.version == nil { started["source"] = "configuration" }
        let marker = try await record([NewEvent(type: RunbookEvent.started, stream: RunbookEvent.runStream(name), data: .map(started),
                                                causation: run.context.causation, correlation: run.context.correlation)])
        var done: [(id: String, action: Action, outcome: ActionOutcome)] = []
        var succeeded: [(id: String, inverse: Action?)] = []
        var outcome = "succeeded"
        var failedStep: Int?
        stepping: for (index, action) in run.actions.enumerated() {
            let step = run.runbook.steps[index]
            var context = run.context
            context.causation = marker.first?.id
            context.causeSeq = marker.first?.seq
            context.limiterKey = action.kind.rawValue
            context.step = RunStep(runbook: name, run: runID, step: index + 1, budgetMilliseconds: step.timeoutSeconds * 1_000)
            let inverse = knowledge.topology.inverse(of: action)
            let (id, result) = try await planAndExecute(action, context: context)
            done.append((id, action, result))
            if result.succeeded {
                succeeded.append((id, inverse))
                continue
            }
            failedStep = failedStep ?? index + 1
            switch step.onFailure {
            case .continue:
                outcome = "failed"
            case .stop:
                outcome = "failed"
                break stepping
            case .rollback:
                outcome = "rolled_back"
                for (compensated, inverse) in succeeded.reversed() {
                    guard let inverse else { continue }
                    var compensation = run.context
                    compensation.reason = "runbook \(name) rolled back after step \(index + 1) failed"
                    compensation.causation = marker.first?.id
                    compensation.causeSeq = marker.first?.seq
                    compensation.compensates = compensated
                    compensation.limiterKey = "rollback"
                    compensation.symptomKey = nil
                    let (id, result) = try await planAndExecute(inverse, context: compensation)
                    done.append((id, inverse, result))
                    if !result.succeeded { outcome = "rollback_failed" }
                }
                break stepping
            }
        }
        var finished: [String: EventValue] = ["runbook": .string(name), "version": .int(Int64(run.version ?? 0)), "run": .string(runID),
                                              "outcome": .string(outcome), "actions": .array(done.map { .string($0.id) })]
        if let failedStep { finished["failed_step"] = .int(Int64(failedStep)) }
        _ = try await record([NewEvent(type: RunbookEvent.finished, stream: RunbookEvent.runStream(name), data: .map(finished),
                                       causation: marker.first?.id, correlation: run.context.correlation)])
        return done
    }

    /// Ends, as interrupted, every run the log shows started and never finished: a stop of the
    /// agent cut it off (its interrupted action is concluded the same way).
    func concludeInterruptedRuns() async throws(HealingError) {
        let open = knowledge.runbooks.inFlight.sorted { $0.value.startedSeq < $1.value.startedSeq }
        guard !open.isEmpty else { return }
        try await record(open.map { run in
            NewEvent(type: RunbookEvent.finished, stream: RunbookEvent.runStream(run.value.runbook),
                     data: ["runbook": .string(run.value.runbook), "version": .int(Int64(run.value.version)), "run": .string(run.key),
                            "outcome": "interrupted", "actions": []])
        })
    }
}
