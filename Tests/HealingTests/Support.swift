import EventStore
import Healing
import Projections
import TestKit

/// An actuator that follows a script of outcomes (then succeeds) and records every call.
final class ScriptedActuator: Actuator, @unchecked Sendable {
    private let lock = Mutex()
    private var script: [ActuatorFailure?]
    private var log: [(Action, Int)] = []
    let clock: ManualClock?
    let latency: Int64

    init(_ script: [ActuatorFailure?] = [], clock: ManualClock? = nil, latencyMilliseconds: Int64 = 0) {
        self.script = script
        self.clock = clock
        latency = latencyMilliseconds * 1_000_000
    }

    var calls: [(Action, Int)] { lock.withLock { log } }
    func then(_ more: [ActuatorFailure?]) { lock.withLock { script += more } }

    func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action {
        clock?.advance(nanoseconds: latency)
        let next: ActuatorFailure?? = lock.withLock {
            log.append((action, attempt))
            return script.isEmpty ? nil : script.removeFirst()
        }
        if let failure = next ?? nil { throw failure }
        return action
    }
}

let fails = ActuatorFailure("boom", retryable: false)
let flaky = ActuatorFailure("timeout", retryable: true)

/// A store, clock and engine with the given actuator and config.
struct Rig {
    let dir = TemporaryDirectory()
    let clock = ManualClock(Timestamp(seconds: 1_795_932_000))
    let store: EventStore
    let engine: HealingEngine

    static let topology = Topology(routes: ["api": "a"], replicas: ["api": 3, "db": 2], regions: ["api": "eu-west", "db": "eu-west"], quarantined: [])

    init(actuator: any Actuator, config: HealingConfig = HealingConfig(seed: 5, regions: ["eu-west", "eu-central"]),
         topology: Topology? = Rig.topology) async throws {
        var options = StoreOptions()
        options.nodeID = "agent-t"
        options.replicaID = "r-t"
        options.clock = clock
        // Every event the engine writes must pass its own vocabulary.
        options.vocabularies = [HealingVocabulary()]
        store = try EventStore.open(at: dir.store(), options: options)
        engine = try await HealingEngine.open(store: store, config: config, actuator: actuator, sleeper: ManualSleeper(clock: clock), declaring: topology)
    }

    func events(_ type: String) throws -> [Event] { try store.query(EventQuery(type: type)).collect() }
    func advance(seconds: Int64) { clock.advance(nanoseconds: seconds * 1_000_000_000) }
}

/// A healing-flavoured random event for the determinism check.
func healingEvent(_ rng: inout SplitMix64, _ n: Int) -> NewEvent {
    // One event in ten is damaged, as a log written by an older version or a peer may hold:
    // every projection must skip and count it the same way on every build.
    if rng.next() % 10 == 0 {
        var damaged = wellFormedHealingEvent(&rng, n)
        damaged.data = damage(damaged.data, &rng)
        return damaged
    }
    return wellFormedHealingEvent(&rng, n)
}

/// A payload with one field removed, retyped or pushed out of range.
func damage(_ data: EventValue, _ rng: inout SplitMix64) -> EventValue {
    guard case .map(var fields) = data, !fields.isEmpty else { return ["x": 1] }
    let keys = fields.keys.sorted()
    let key = keys[Int(rng.next() % UInt64(keys.count))]
    switch rng.next() % 4 {
    case 0: fields[key] = nil
    case 1: fields[key] = .bool(true)
    case 2: fields[key] = .int(Int64.max)
    default: fields[key] = .int(-1)
    }
    return .map(fields)
}

func wellFormedHealingEvent(_ rng: inout SplitMix64, _ n: Int) -> NewEvent {
    let breakers = ["node/a", "node/b", "service/api"]
    let breaker = breakers[Int(rng.next() % 3)]
    let id = "act-\(rng.next() % 40)"
    switch rng.next() % 9 {
    case 0:
        return NewEvent(type: HealingEvent.topologyDeclared, stream: "topology/mesh", data: Rig.topology.document)
    case 1:
        let action = Action.scale(service: "api", from: Int(rng.next() % 5), to: Int(rng.next() % 5))
        return NewEvent(type: HealingEvent.actionPlanned, stream: "action/\(id)",
                        data: ["action": .string(id), "kind": "scale", "target": "service/api", "params": action.params, "reason": "r"],
                        correlation: "incident-\(rng.next() % 3)")
    case 2:
        return NewEvent(type: HealingEvent.actionStarted, stream: "action/\(id)",
                        data: ["action": .string(id), "attempt": .int(Int64(1 + rng.next() % 3)), "breaker": .string(breaker), "limiter": "scale", "window_s": 60])
    case 3, 4:
        let effect: Action = rng.next() % 2 == 0 ? .quarantine(node: "n\(rng.next() % 3)", reason: "x") : .failover(service: "db", fromRegion: "eu-west", toRegion: "eu-central")
        return NewEvent(type: HealingEvent.actionSucceeded, stream: "action/\(id)",
                        data: ["action": .string(id), "attempt": 1, "duration_ms": .int(Int64(rng.next() % 900)), "effect": effect.document, "breaker": .string(breaker)])
    case 5, 6:
        return NewEvent(type: HealingEvent.actionFailed, stream: "action/\(id)",
                        data: ["action": .string(id), "attempt": 1, "error": "e", "retryable": false, "breaker": .string(breaker)])
    case 7:
        let to = BreakerPhase.allCases[Int(rng.next() % 5)].rawValue
        return NewEvent(type: HealingEvent.breakerTransitioned, stream: "breaker/\(breaker)",
                        data: ["breaker": .string(breaker), "from": "closed", "to": .string(to), "failures": 0, "successes": 0, "reason": "r"])
    default:
        let key = "node_unavailable|node|n\(rng.next() % 3)"
        let cleared = rng.next() % 2 == 0
        return NewEvent(type: cleared ? HealingEvent.symptomCleared : HealingEvent.symptomDetected, stream: "node/n",
                        data: cleared ? ["symptom": "node_unavailable", "key": .string(key)]
                            : ["symptom": "node_unavailable", "key": .string(key), "incident": .string("incident-\(n / 100)"),
                               "metric": "availability", "value": 0.1, "threshold": 0.5],
                        correlation: "incident-\(n / 100)")
    }
}
