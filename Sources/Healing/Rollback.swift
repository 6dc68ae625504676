import EventStore
import Projections

/// What a rollback restored and what it could not, with reasons.
public struct RollbackReport: Sendable, Equatable {
    public var toSeq: UInt64
    public var restored: [String] = []
    public var notRestored: [(key: String, reason: String)] = []

    public static func == (a: RollbackReport, b: RollbackReport) -> Bool {
        a.toSeq == b.toSeq && a.restored == b.restored && a.notRestored.map(\.key) == b.notRestored.map(\.key)
            && a.notRestored.map(\.reason) == b.notRestored.map(\.reason)
    }
}

/// A compensating plan: the actions that set each differing key back, in a safe order, and
/// the keys that cannot be set back.
public struct RollbackPlan: Sendable {
    public var toSeq: UInt64
    public var actions: [Action]
    public var skipped: [(key: String, reason: String)]

    public var document: EventValue {
        ["to_seq": .int(Int64(toSeq)), "actions": .array(actions.map(\.document)),
         "not_restorable": .array(skipped.map { ["key": .string($0.key), "reason": .string($0.reason)] })]
    }
}

extension HealingEngine {
    /// The topology after events 1 through `seq`, from the log.
    func topology(at seq: UInt64) throws(HealingError) -> Topology {
        do { return try Replay(store: store, projection: TopologyProjection()).state(at: seq).value } catch { throw HealingError.wrap(error) }
    }

    func checkRollbackTarget(_ seq: UInt64) throws(HealingError) {
        let head: UInt64
        do { head = try store.head().seq } catch { throw .storeFailure(error) }
        guard seq >= 1 else { throw .invalidRollback("seq \(seq) is before the first event (seqs start at 1)") }
        guard seq <= head else { throw .invalidRollback("seq \(seq) is after the last event (the head is seq \(head))") }
    }

    /// The compensating actions that would bring the topology back to its state at `seq`.
    public func planRollback(to seq: UInt64) throws(HealingError) -> RollbackPlan {
        try catchUp()
        try checkRollbackTarget(seq)
        let target = try topology(at: seq)
        return plan(keys: knowledge.topology.differingKeys(from: target), target: target, toSeq: seq, skipped: [])
    }

    func plan(keys: [TopologyKey], target: Topology, toSeq: UInt64, skipped: [(String, String)]) -> RollbackPlan {
        var actions: [Action] = []
        var skippedKeys = skipped.map { (key: $0.0, reason: $0.1) }
        for key in keys {
            if let action = knowledge.topology.action(setting: key, to: target, reason: "rollback to seq \(toSeq)") {
                actions.append(action)
            } else {
                skippedKeys.append((key.description, "no value for it at seq \(toSeq)"))
            }
        }
        actions.sort { (Topology.compensationRank($0), $0.target) < (Topology.compensationRank($1), $1.target) }
        return RollbackPlan(toSeq: toSeq, actions: actions, skipped: skippedKeys)
    }

    /// Restores the whole topology to its state at `seq`.
    public func rollback(to seq: UInt64) async throws(HealingError) -> RollbackReport {
        let plan = try planRollback(to: seq)
        return try await execute(plan, scope: "all", correlation: nil)
    }

    /// Restores only the keys that incident `correlation`'s actions changed, to their values
    /// before the incident; a key a later action changed again is left alone and reported.
    public func rollback(correlation: String) async throws(HealingError) -> RollbackReport {
        try catchUp()
        let mine = knowledge.actions.filter { $0.value.correlation == correlation && $0.value.outcome == "succeeded" && $0.value.compensates == nil }
        guard let first = mine.values.map(\.plannedSeq).min() else {
            throw .invalidRollback("incident \(correlation) has no succeeded actions")
        }
        return try await rollback(actions: mine, before: first, scope: "correlation", correlation: correlation)
    }

    /// Restores the key the last succeeded action changed.
    public func rollbackLastAction() async throws(HealingError) -> RollbackReport {
        try catchUp()
        guard let last = knowledge.actions.filter({ $0.value.outcome == "succeeded" && $0.value.compensates == nil })
            .max(by: { $0.value.plannedSeq < $1.value.plannedSeq }) else {
            throw .invalidRollback("no action has succeeded yet")
        }
        return try await rollback(actions: [last.key: last.value], before: last.value.plannedSeq, scope: "action", correlation: last.value.correlation)
    }

    private func rollback(actions: [String: ActionRecord], before seq: UInt64, scope: String, correlation: String?) async throws(HealingError) -> RollbackReport {
        let toSeq = seq - 1
        let target = toSeq == 0 ? Topology() : try topology(at: toSeq)
        var keys: Set<TopologyKey> = []
        var lastTouch: [TopologyKey: UInt64] = [:]
        for record in actions.values {
            guard let action = try? Action(kind: record.kind, params: record.params) else { continue }
            keys.insert(action.key)
            lastTouch[action.key] = max(lastTouch[action.key] ?? 0, record.plannedSeq)
        }
        var restorable: [TopologyKey] = []
        var skipped: [(String, String)] = []
        for key in keys.sorted() {
            let later = knowledge.actions.filter { entry in
                guard actions[entry.key] == nil, entry.value.outcome == "succeeded", entry.value.plannedSeq > (lastTouch[key] ?? 0),
                      let action = try? Action(kind: entry.value.kind, params: entry.value.params) else { return false }
                return action.key == key
            }.min { $0.value.plannedSeq < $1.value.plannedSeq }
            if let later {
                skipped.append((key.description, "changed again later by \(later.key)" + (later.value.correlation.map { " (\($0))" } ?? "")))
            } else if knowledge.topology.value(of: key) != target.value(of: key) {
                restorable.append(key)
            }
        }
        let plan = plan(keys: restorable, target: target, toSeq: toSeq, skipped: skipped)
        return try await execute(plan, scope: scope, correlation: correlation)
    }

    func execute(_ plan: RollbackPlan, scope: String, correlation: String?) async throws(HealingError) -> RollbackReport {
        let id = "rollback-\(knowledge.mapek.rollbacks.addingSaturated(1))"
        var started: [String: EventValue] = ["to_seq": .int(Int64(plan.toSeq)), "scope": .string(scope),
                                             "actions": .array(plan.actions.map(\.document))]
        if let correlation { started["correlation"] = .string(correlation) }
        let marker = try await record([NewEvent(type: HealingEvent.rollbackStarted, stream: "rollback/\(id)", data: .map(started), correlation: correlation)])
        var report = RollbackReport(toSeq: plan.toSeq)
        report.notRestored = plan.skipped
        for action in plan.actions {
            let context = PlanContext(reason: "rollback to seq \(plan.toSeq)", causation: marker.first?.id, causeSeq: marker.first?.seq, correlation: correlation,
                                      compensates: id, limiterKey: "rollback")
            let (_, outcome) = try await planAndExecute(action, context: context)
            if outcome.succeeded { report.restored.append(action.key.description) } else { report.notRestored.append((action.key.description, outcome.summary)) }
        }
        try await record([NewEvent(type: HealingEvent.rollbackCompleted, stream: "rollback/\(id)",
                                   data: ["to_seq": .int(Int64(plan.toSeq)), "restored": .array(report.restored.map { .string($0) }),
                                          "not_restored": .array(report.notRestored.map { ["key": .string($0.key), "reason": .string($0.reason)] })],
                                   correlation: correlation)])
        return report
    }
}
