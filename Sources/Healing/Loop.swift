import EventStore

/// What one MAPE-K cycle did.
public struct CycleReport: Sendable {
    public var cycle: Int
    public var detected: [String] = []
    public var cleared: [String] = []
    public var actions: [(id: String, action: Action, outcome: ActionOutcome)] = []
}

extension HealingEngine {
    /// One MAPE-K cycle: monitor the observations, analyse them into symptoms (with
    /// hysteresis), plan actions for new, still-unanswered and cleared symptoms, execute them,
    /// and record `mapek.cycle` with per-phase durations.
    public func cycle(_ observations: [Observation]) async throws(HealingError) -> CycleReport {
        try catchUp()
        let number = knowledge.mapek.cycles.addingSaturated(1)
        var report = CycleReport(cycle: number)
        let t0 = now
        // Monitor: the latest value per (metric, node, service) wins.
        var latest: [String: Observation] = [:]
        var order: [String] = []
        for o in observations {
            let key = "\(o.metric)|\(o.node ?? "")|\(o.service ?? "")"
            if latest[key] == nil { order.append(key) }
            latest[key] = o
        }
        let t1 = now

        // Analyse.
        var symptomEvents: [NewEvent] = []
        var incident = knowledge.mapek.currentIncident
        var incidentCount = knowledge.mapek.incidents
        var pendingActive = knowledge.mapek.active.keys.count
        var clearedContexts: [(SymptomContext, String)] = []
        for key in order {
            guard let o = latest[key] else { continue }
            for rule in config.symptoms where rule.metric == o.metric {
                guard let subject = rule.subject(o) else { continue }
                let symptomKey = rule.key(subject)
                let context = SymptomContext(rule: rule.name, node: rule.scope == .node ? subject : nil,
                                             service: rule.scope == .service ? subject : nil, key: symptomKey)
                var data: [String: EventValue] = ["symptom": .string(rule.name), "key": .string(symptomKey)]
                if let node = context.node { data["node"] = .string(node) }
                if let service = context.service { data["service"] = .string(service) }
                let stream = rule.scope == .node ? "node/\(subject)" : "service/\(subject)"
                if let active = knowledge.mapek.active[symptomKey] {
                    guard rule.clears(o.value) else { continue }
                    symptomEvents.append(NewEvent(type: HealingEvent.symptomCleared, stream: stream, data: .map(data), correlation: active.incident))
                    clearedContexts.append((context, active.incident))
                    pendingActive -= 1
                    report.cleared.append(symptomKey)
                } else if rule.fires(o.value) {
                    if incident == nil {
                        incidentCount += 1
                        incident = "incident-\(store.replicaID)-\(incidentCount)"
                    }
                    data["metric"] = .string(o.metric)
                    data["value"] = .double(o.value)
                    data["threshold"] = .double(rule.threshold)
                    data["incident"] = .string(incident ?? "")
                    symptomEvents.append(NewEvent(type: HealingEvent.symptomDetected, stream: stream, data: .map(data), correlation: incident))
                    pendingActive += 1
                    report.detected.append(symptomKey)
                }
            }
            if pendingActive == 0 { incident = nil }
        }
        try await record(symptomEvents)
        let t2 = now

        // Plan: every active symptom with no answered or running action in its incident
        // (new ones, and those whose last action failed or was rejected), and every cleared
        // one, answered by the runbooks that match it.
        var runs: [PlannedRun] = []
        var startedThisCycle: [String: Int] = [:]
        // Read once per cycle: the active versions are documents in the log, parsed here.
        let runbooks = effectiveRunbooks()
        func plan(_ symptom: String, _ trigger: RunbookDocument.Trigger, service: String?, node: String?, value: Double?, key: String,
                  context: PlanContext) {
            for (runbook, version) in runbooks
            where runbook.matches(symptom: symptom, trigger: trigger, service: service, node: node, value: value, topology: knowledge.topology) {
                let scope = RunbookDocument.scope(symptom: symptom, service: service, node: node, value: value, topology: knowledge.topology,
                                                  regions: config.regions, alternateRoutes: config.alternateRoutes)
                guard let actions = runbook.plannedActions(scope: scope) else { continue }
                // Limits: runs of one cycle count as concurrent, with any left unfinished; the
                // cool-down is per subject, from the last run's start.
                let inFlight = knowledge.runbooks.inFlight.values.filter { $0.runbook == runbook.name }.count
                guard inFlight + startedThisCycle[runbook.name, default: 0] < runbook.limits.maxConcurrent else { continue }
                if let last = knowledge.runbooks.lastStart["\(runbook.name)|\(key)"],
                   now.nanoseconds.saturatingMinus(last) < runbook.limits.cooldownSeconds.secondsAsNanoseconds { continue }
                startedThisCycle[runbook.name, default: 0] += 1
                runs.append(PlannedRun(runbook: runbook, version: version, actions: actions, context: context))
            }
        }
        for (key, active) in knowledge.mapek.active.sorted(by: { $0.key < $1.key }) {
            let answered = knowledge.actions.values.contains {
                $0.symptomKey == key && $0.correlation == active.incident && ($0.outcome == "succeeded" || $0.outcome == "running")
            }
            guard !answered else { continue }
            plan(active.symptom, .detected, service: active.service, node: active.node, value: active.value, key: key,
                 context: PlanContext(reason: active.symptom, causation: active.eventID, causeSeq: active.seq, correlation: active.incident,
                                      symptomKey: key, limiterKey: ""))
        }
        for (context, incident) in clearedContexts {
            plan(context.rule, .cleared, service: context.service, node: context.node, value: nil, key: context.key + "|cleared",
                 context: PlanContext(reason: "\(context.rule) cleared", correlation: incident, symptomKey: context.key + "|cleared", limiterKey: ""))
        }
        let t3 = now

        // Execute.
        for run in runs {
            report.actions += try await execute(run)
        }
        let t4 = now
        func ms(_ a: Timestamp, _ b: Timestamp) -> EventValue { .int(Int64(b.milliseconds(since: a))) }
        try await record([NewEvent(type: HealingEvent.cycle, stream: "mapek/\(config.agent)",
                                   data: ["cycle": .int(Int64(number)), "monitor_ms": ms(t0, t1), "analyze_ms": ms(t1, t2),
                                          "plan_ms": ms(t2, t3), "execute_ms": ms(t3, t4),
                                          "symptoms": .int(Int64(report.detected.count + report.cleared.count)),
                                          "actions": .int(Int64(report.actions.count))])])
        return report
    }
}
