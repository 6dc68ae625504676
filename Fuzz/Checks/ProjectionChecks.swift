import EventStore
import Healing
import Policies
import Projections

extension FuzzCheck {
    /// A projection's snapshot state: whatever decodes encodes, decodes back to itself, and
    /// goes on taking events without a trap (a snapshot is read from the store's bytes).
    public static let snapshot = FuzzCheck(name: "snapshot", check: { bytes throws(FuzzFinding) in
        for projection in ProjectionUnderTest.all { try projection.snapshot(bytes) }
    }, seeds: {
        let events = ProjectionUnderTest.sampleEvents
        // Counters at their limit, as a crafted snapshot may hold them.
        var worn = BreakerState()
        worn.phase = .halfOpen
        worn.consecutiveFailures = .max
        worn.halfOpenSuccesses = .max
        worn.inFlight = .max
        worn.totalSuccesses = .max
        worn.totalFailures = .max
        var memory = MapekProjection.Memory()
        memory.incidents = .max
        memory.cycles = .max
        memory.rollbacks = .max
        var action = ActionRecord(kind: "quarantine", target: "node/n1", params: ["node": "n1"], reason: "r", plannedSeq: .max)
        action.attempts = .max
        action.durationMilliseconds = .max
        let extremes: [[UInt8]?] = [
            try? BreakersProjection().encode(Tolerant(["node/n1": worn])).bytes,
            try? MapekProjection().encode(Tolerant(memory)).bytes,
            try? ActionsProjection().encode(Tolerant(["a1": action])).bytes,
        ]
        return ProjectionUnderTest.all.compactMap { $0.encodedState(events) } + extremes.compactMap { $0 }
    })

    /// Arbitrary decoded events fed to every projection: no trap, and the one-by-one, run and
    /// combined forms end in the same state.
    public static let projections = FuzzCheck(name: "projections", check: { bytes throws(FuzzFinding) in
        let events = ProjectionUnderTest.events(from: bytes)
        for projection in ProjectionUnderTest.all { try projection.replay(events) }
    }, seeds: {
        let sample = ProjectionUnderTest.sampleEvents
        return [ProjectionUnderTest.bytes(of: sample), ProjectionUnderTest.bytes(of: sample.reversed()),
                ProjectionUnderTest.bytes(of: sample + sample)]
    })
}

/// One projection with its state type hidden, and the checks run on it.
struct ProjectionUnderTest: Sendable {
    let snapshot: @Sendable ([UInt8]) throws(FuzzFinding) -> Void
    let replay: @Sendable ([Event]) throws(FuzzFinding) -> Void
    let encodedState: @Sendable ([Event]) -> [UInt8]?

    init<P: Projection>(_ projection: P) {
        snapshot = { bytes throws(FuzzFinding) in
            guard let state = try? projection.decode(bytes) else { return }
            guard let encoded = try? projection.encode(state) else { throw FuzzFinding("\(projection.name): a decoded state does not encode") }
            guard let again = try? projection.decode(encoded.bytes) else { throw FuzzFinding("\(projection.name): an encoded state does not decode") }
            try require(again == state, "\(projection.name): state round trip changed it")
            var next = state
            projection.reduce(ProjectionUnderTest.sampleEvents, into: &next)
        }
        replay = { events throws(FuzzFinding) in
            var oneByOne = projection.initialState
            projection.reduce(events, into: &oneByOne)
            var asRun = projection.initialState
            projection.apply(events[...], to: &asRun)
            try require(asRun == oneByOne, "\(projection.name): the run form differs from the one-by-one form")
            if let combine = projection.combineRuns, events.count > 1 {
                let middle = events.count / 2
                var first = projection.initialState, second = projection.initialState
                projection.reduce(events[..<middle], into: &first)
                projection.reduce(events[middle...], into: &second)
                combine(&first, second)
                try require(first == oneByOne, "\(projection.name): combined halves differ from the whole")
            }
            guard (try? projection.encode(oneByOne)) != nil else { throw FuzzFinding("\(projection.name): a replayed state does not encode") }
        }
        encodedState = { events in
            var state = projection.initialState
            projection.reduce(events, into: &state)
            return try? projection.encode(state).bytes
        }
    }

    static let all: [ProjectionUnderTest] = [
        ProjectionUnderTest(StatsProjection()), ProjectionUnderTest(StreamsProjection()), ProjectionUnderTest(BreakersProjection()),
        ProjectionUnderTest(LimitersProjection()), ProjectionUnderTest(TopologyProjection()), ProjectionUnderTest(ActionsProjection()),
        ProjectionUnderTest(MapekProjection()), ProjectionUnderTest(RunbooksProjection()), ProjectionUnderTest(PoliciesProjection()),
    ]

    static let types = [HealingEvent.symptomDetected, HealingEvent.symptomCleared, HealingEvent.actionPlanned, HealingEvent.actionStarted,
                        HealingEvent.actionSucceeded, HealingEvent.actionFailed, HealingEvent.actionRejected, HealingEvent.breakerTransitioned,
                        HealingEvent.rateLimitThrottled, HealingEvent.rollbackStarted, HealingEvent.rollbackCompleted, HealingEvent.cycle,
                        HealingEvent.topologyDeclared, "operator.note", RunbookEvent.published, RunbookEvent.activated, RunbookEvent.started,
                        RunbookEvent.finished, PolicyEvent.published, PolicyEvent.activated, PolicyEvent.decision]
    /// Times an event may carry, the ends of the range among them.
    static let times: [Int64] = [0, 1_795_932_480_000_000_000, .max, .min, 1_795_932_540_000_000_000, -1]

    /// Events read from fuzz bytes: a selector byte (type and time), then one CBOR value as the
    /// payload, repeated while the bytes last.
    static func events(from bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { buffer in
            var reader = CBORReader(buffer)
            var events: [Event] = []
            while !reader.isAtEnd, events.count < 256 {
                let selector = Int(buffer[reader.offset])
                reader = CBORReader(buffer, offset: reader.offset + 1)
                guard let data = try? reader.readValue() else { break }
                let type = types[selector % types.count]
                let seq = UInt64(events.count + 1)
                events.append(Event(seq: seq, stream: "s/\(selector % 3)", type: type, data: data, id: "e\(seq)",
                                    time: Timestamp(nanoseconds: times[selector / types.count % times.count]), version: seq,
                                    correlation: "incident-\(selector % 2)"))
            }
            return events
        }
    }

    /// The bytes `events(from:)` reads back as `events` (types and payloads).
    static func bytes(of events: [Event]) -> [UInt8] {
        events.flatMap { event in [UInt8(types.firstIndex(of: event.type) ?? types.count - 1)] + CBORWriter.encode(event.data) }
    }

    static let sampleEvents: [Event] = {
        let effect = Action.quarantine(node: "n1", reason: "flapping").document
        let payloads: [(String, EventValue)] = [
            (HealingEvent.topologyDeclared, Topology(routes: ["api": "a"], replicas: ["api": 3], regions: ["api": "eu"]).document),
            (HealingEvent.symptomDetected, ["symptom": "s", "key": "s|node|n1", "metric": "m", "value": 0.1, "threshold": 0.5, "incident": "incident-1"]),
            (HealingEvent.actionPlanned, ["action": "a1", "kind": "quarantine", "target": "node/n1", "params": ["node": "n1"], "reason": "r"]),
            (HealingEvent.actionStarted, ["action": "a1", "attempt": 1, "breaker": "node/n1", "limiter": "quarantine", "window_s": 60]),
            (HealingEvent.actionFailed, ["action": "a1", "attempt": 1, "error": "e", "retryable": true, "retry_in_ms": 100, "breaker": "node/n1"]),
            (HealingEvent.actionSucceeded, ["action": "a1", "attempt": 2, "duration_ms": 12, "effect": effect, "breaker": "node/n1"]),
            (HealingEvent.breakerTransitioned, ["breaker": "node/n1", "from": "closed", "to": "open", "reason": "r"]),
            (HealingEvent.cycle, ["cycle": 3]),
            (HealingEvent.rollbackStarted, ["to_seq": 1, "scope": "all"]),
            (HealingEvent.symptomCleared, ["symptom": "s", "key": "s|node|n1"]),
            (RunbookEvent.started, ["runbook": "r", "version": 1, "run": "run-1", "symptom": "s|node|n1", "steps": 1]),
            (RunbookEvent.finished, ["runbook": "r", "version": 1, "run": "run-1", "outcome": "succeeded", "actions": ["a1"]]),
            (PolicyEvent.activated, ["policy": "p", "version": 1]),
            (PolicyEvent.decision, ["policy": "p", "version": 1, "input": ["subject": "peer"], "result": "deny", "rule": "default", "evaluator": "builtin"]),
        ]
        return payloads.enumerated().map { i, p in
            Event(seq: UInt64(i + 1), stream: "s/1", type: p.0, data: p.1, id: "e\(i + 1)",
                  time: Timestamp(nanoseconds: 1_795_932_480_000_000_000 + Int64(i) * 1_000_000_000), version: UInt64(i + 1),
                  correlation: "incident-1")
        }
    }()
}
