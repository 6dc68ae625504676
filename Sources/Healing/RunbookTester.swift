import EventStore

/// What one of a runbook's test cases gave.
public struct RunbookTestResult: Sendable {
    public var name: String
    /// The actions planned, as `{kind, params}`, in order.
    public var actions: [EventValue]
    public var expected: [EventValue]
    public var topology: Topology
    public var passed: Bool { actions == expected }
}

/// Runs a runbook's own test cases: each on a fresh store in `directory`, with the runbook as
/// the engine's only runbook, the case's topology declared, and an actuator that does nothing
/// (failing the steps the case names). The symptom is observed past its threshold, one cycle,
/// then back to healthy, another cycle; the actions of both are compared with the expected ones.
public enum RunbookTester {
    /// An actuator that changes nothing and fails the Nth distinct action it is given for each
    /// N in `failing`, without a retry.
    final class TestActuator: Actuator, @unchecked Sendable {
        // @unchecked: the engine calls it from one actor at a time; `seen` is guarded by `lock`.
        private let failing: Set<Int>
        private let lock = Mutex()
        private var seen: [String] = []

        init(failing: Set<Int>) { self.failing = failing }

        func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action {
            let index = lock.withLock { () -> Int in
                if let known = seen.firstIndex(of: actionID) { return known + 1 }
                seen.append(actionID)
                return seen.count
            }
            if failing.contains(index) { throw ActuatorFailure("step \(index) fails in this test", retryable: false) }
            return action
        }
    }

    public static func run(_ runbook: RunbookDocument, in directory: String, start: Timestamp = Timestamp(seconds: 1_795_932_000)) async throws -> [RunbookTestResult] {
        var results: [RunbookTestResult] = []
        for (index, test) in runbook.tests.enumerated() {
            let clock = ManualClock(start)
            var options = StoreOptions()
            options.clock = clock
            options.nodeID = "runbook-test"
            options.replicaID = "test"
            options.vocabularies = [HealingVocabulary()]
            let store = try EventStore.open(at: "\(directory)/case-\(index + 1)", options: options)
            defer { store.close() }
            var config = HealingConfig(seed: 1, regions: test.regions, alternateRoutes: test.alternateRoutes)
            config.runbooks = [runbook]
            config.agent = "runbook-test"
            let engine = try await HealingEngine.open(store: store, config: config, actuator: TestActuator(failing: test.failSteps),
                                                      sleeper: ManualSleeper(clock: clock), declaring: test.topology)
            var actions: [EventValue] = []
            for healthy in [false, true] {
                guard let observation = observation(for: test, healthy: healthy, rules: config.symptoms) else { break }
                let report = try await engine.cycle([observation])
                actions += report.actions.map(\.action.document)
                clock.advance(nanoseconds: 5_000_000_000)
            }
            results.append(RunbookTestResult(name: test.name, actions: actions, expected: test.expect, topology: await engine.topology))
        }
        return results
    }

    /// The observation that raises (or, `healthy`, clears) the case's symptom.
    static func observation(for test: RunbookDocument.TestCase, healthy: Bool, rules: [SymptomRule]) -> Observation? {
        guard let rule = rules.first(where: { $0.name == test.symptom }) else { return nil }
        let firing = test.value ?? (rule.firesAbove ? rule.threshold * 2 + 1 : rule.threshold / 2)
        let value = healthy ? (rule.firesAbove ? rule.clearAt / 2 : rule.clearAt + (1 - rule.clearAt) / 2) : firing
        return Observation(node: rule.scope == .node ? test.node : nil, service: rule.scope == .service ? test.service : nil, metric: rule.metric, value: value)
    }
}
