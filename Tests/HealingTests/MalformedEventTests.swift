import EventStore
import Healing
import Projections
import Testing
import TestKit

/// One bad event must never take an agent down: a store can hold malformed healing events
/// (an older version wrote them, a peer sent them, someone imported them before validation
/// existed), and every projection skips and counts them, the same way on every build.
@Suite("Malformed healing events")
struct MalformedEventTests {
    /// The poisons of the reliability issue, and one of each kind of fault per event type.
    static let poisons: [(type: String, data: EventValue)] = [
        (HealingEvent.actionStarted, ["action": "a1", "window_s": .int(Int64.max), "limiter": "x", "breaker": "y"]),
        (HealingEvent.actionStarted, ["action": "a1", "attempt": 1, "window_s": .int(Int64.max), "limiter": "x", "breaker": "y"]),
        (HealingEvent.actionStarted, ["action": "a1", "attempt": 1, "window_s": -5, "limiter": "x"]),
        (HealingEvent.actionSucceeded, ["action": "a1", "attempt": 1, "duration_ms": .int(Int64.max), "breaker": "y",
                                        "effect": ["kind": "release", "params": ["node": "n1"]]]),
        (HealingEvent.actionSucceeded, ["action": "a1", "attempt": 1, "duration_ms": 5, "effect": ["kind": "teleport", "params": [:]]]),
        (HealingEvent.actionFailed, ["action": "a1", "attempt": "one", "error": "e", "retryable": false]),
        (HealingEvent.actionFailed, ["action": "a1", "attempt": 1, "error": "e", "retryable": false, "duration_ms": .int(Int64.min)]),
        (HealingEvent.actionPlanned, ["action": "", "kind": "scale", "target": "service/api", "params": [:], "reason": "r"]),
        (HealingEvent.actionRejected, ["action": "a1"]),
        (HealingEvent.breakerTransitioned, ["breaker": "y", "to": "sideways", "reason": "r"]),
        (HealingEvent.breakerTransitioned, ["breaker": 7, "to": "open", "reason": "r"]),
        (HealingEvent.symptomDetected, ["symptom": "s", "metric": "m", "value": "high", "threshold": 1]),
        (HealingEvent.symptomCleared, ["node": "n1"]),
        (HealingEvent.cycle, ["cycle": -1]),
        (HealingEvent.rollbackStarted, ["to_seq": -3, "scope": "all"]),
        (HealingEvent.topologyDeclared, ["replicas": ["api": -1]]),
        (HealingEvent.topologyDeclared, ["routes": "everywhere"]),
    ]

    @Test("an engine opens on a store holding every poison, counts them, and keeps healing")
    func engineSurvivesPoisonedStore() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 1_795_932_000))
        var options = StoreOptions()
        options.clock = clock
        options.nodeID = "agent-t"
        // Written as an older version would have: without the vocabulary.
        let store = try EventStore.open(at: dir.store(), options: options)
        _ = try await store.append([NewEvent(type: HealingEvent.topologyDeclared, stream: "topology/mesh", data: Rig.topology.document)])
        _ = try await store.append(Self.poisons.map { NewEvent(type: $0.type, stream: "action/a1", data: $0.data) })
        // Times at both ends of what the log can hold.
        _ = try await store.append([
            NewEvent(type: HealingEvent.actionStarted, stream: "action/a2", data: ["action": "a2", "attempt": 1, "limiter": "x", "window_s": 60, "breaker": "y"],
                     time: Timestamp(nanoseconds: .min)),
            NewEvent(type: HealingEvent.actionStarted, stream: "action/a2", data: ["action": "a2", "attempt": 2, "limiter": "x", "window_s": 31_536_000, "breaker": "y"],
                     time: Timestamp(nanoseconds: .max)),
        ])

        let engine = try await HealingEngine.open(store: store, config: HealingConfig(seed: 5, regions: ["eu-west", "eu-central"]),
                                                  actuator: ScriptedActuator(), sleeper: ManualSleeper(clock: clock))
        let malformed = await engine.malformedEvents
        #expect(malformed["limiters"]?.count == 3, "\(malformed)")
        #expect(malformed["breakers"]?.count == 9, "\(malformed)")
        #expect(malformed["mapek"]?.count == 4, "\(malformed)")
        #expect(malformed["topology"]?.count == 4, "\(malformed)")
        #expect(malformed["limiters"]?.lastError?.contains("data.window_s") == true)
        #expect(await engine.topology == Rig.topology, "the declared topology stands; the bad declarations were skipped")

        // Every projection, from scratch, counts exactly what the live knowledge counted.
        for projection in ProjectionRegistry.healing() {
            let state = try projection.state(at: store.head().seq, in: store)
            let count = try #require(state.value()["malformed"]?["count"]?.intValue)
            let expected = malformed[projection.name]?.count ?? 0
            #expect(Int(count) == expected, "\(projection.name)")
        }
        let outcome = try await engine.run(.scale(service: "api", from: 3, to: 4), reason: "after the poison")
        #expect(outcome.succeeded)
    }

    @Test("the healing vocabulary refuses each poison at append, naming the field, and writes nothing")
    func vocabularyRefusesPoisons() async throws {
        let dir = TemporaryDirectory()
        var options = StoreOptions()
        options.vocabularies = [HealingVocabulary()]
        let store = try EventStore.open(at: dir.store(), options: options)
        for (index, poison) in Self.poisons.enumerated() {
            let good = NewEvent(type: HealingEvent.topologyDeclared, stream: "topology/mesh", data: Rig.topology.document)
            await #expect(throws: StoreError.self, "poison \(index)") {
                try await store.append([good, NewEvent(type: poison.type, stream: "action/a1", data: poison.data)])
            }
            do {
                _ = try await store.append([good, NewEvent(type: poison.type, stream: "action/a1", data: poison.data)])
            } catch {
                guard case .invalidEvent(let at, let field, _) = error else { Issue.record("\(error)"); continue }
                #expect(at == 1 && field.hasPrefix("data"), "\(error)")
            }
        }
        #expect(try store.head().seq == 0)
        _ = try await store.append([NewEvent(type: HealingEvent.actionStarted, stream: "action/a1", data: ["action": "a1", "attempt": 1, "limiter": "x", "window_s": 60]),
                                    NewEvent(type: "app.custom", stream: "x/1", data: ["anything": .int(Int64.max)])])
        #expect(try store.head().seq == 2, "valid healing events and unknown types pass")
    }

    @Test("the vocabulary and the projections agree on which damaged events are malformed", arguments: [1, 2, 3] as [UInt64])
    func vocabularyAgreesWithProjections(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let vocabulary = HealingVocabulary()
        let projections = Knowledge()
        var refused = 0, counted = 0
        for n in 0..<3_000 {
            var new = wellFormedHealingEvent(&rng, n)
            if n % 2 == 0 { new.data = damage(new.data, &rng) }
            let event = Event(seq: UInt64(n + 1), stream: new.stream, type: new.type, data: new.data)
            let before = projections.total
            projections.apply(event)
            let isCounted = projections.total > before
            var isRefused = false
            do { try vocabulary.validate(type: new.type, data: new.data) } catch { isRefused = true }
            #expect(isRefused == isCounted, "\(new.type) \(new.data)")
            refused += isRefused ? 1 : 0
            counted += isCounted ? 1 : 0
        }
        #expect(refused > 500 && refused == counted)
    }

    /// All five healing projections over one state each, counting malformed events in total.
    final class Knowledge {
        var breakers = BreakersProjection().initialState
        var limiters = LimitersProjection().initialState
        var topology = TopologyProjection().initialState
        var actions = ActionsProjection().initialState
        var mapek = MapekProjection().initialState

        func apply(_ event: Event) {
            BreakersProjection().apply(event, to: &breakers)
            LimitersProjection().apply(event, to: &limiters)
            TopologyProjection().apply(event, to: &topology)
            ActionsProjection().apply(event, to: &actions)
            MapekProjection().apply(event, to: &mapek)
        }

        var total: Int {
            breakers.malformed.count + limiters.malformed.count + topology.malformed.count + actions.malformed.count + mapek.malformed.count
        }
    }
}
