import BenchWorkload
import EventStore
import Foundation
import Healing

// Issue 4's benchmarks: the overhead of one guarded action (limiter + breaker + its events)
// beside a bare append of the same events, and a 10,000-action scenario's total time.
let actions = Int(ProcessInfo.processInfo.environment["BENCH_ACTIONS"] ?? "") ?? 10_000
let overheadSample = min(actions, 2_000)
print("# healing benchmarks: \(overheadSample) actions for the overhead, \(actions) for the scenario, durable commits")

func makeEngine(_ name: String) async throws -> (EventStore, HealingEngine) {
    let store = try EventStore.open(at: freshDirectory(name))
    var config = HealingConfig(seed: 1)
    config.limits.fallback = RateLimit(limit: 1_000_000, windowSeconds: 60)
    let topology = Topology(replicas: (0..<100).reduce(into: [:]) { $0["svc-\($1)"] = 2 })
    let engine = try await HealingEngine.open(store: store, config: config, actuator: DryRunActuator(), declaring: topology)
    return (store, engine)
}

func action(_ n: Int) -> Action { .scale(service: "svc-\(n % 100)", from: 2 + n % 2, to: 3 - n % 2) }

// 1. One guarded action: planned, started, succeeded, each committed as the engine does.
let (store, engine) = try await makeEngine("guarded")
let start = DispatchTime.now().uptimeNanoseconds
for n in 0..<overheadSample { _ = try await engine.run(action(n), reason: "bench") }
let guardedSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
let recorded = try store.query(EventQuery(fromSeq: 2)).collect()  // seq 1 declares the topology
store.close()

// The same events, appended bare in the same commits as the engine makes them: the plan shares
// a commit with the decision that follows it (started or rejected), every outcome is its own.
var commits: [[NewEvent]] = []
for event in recorded {
    let bareEvent = NewEvent(type: event.type, stream: event.stream, data: event.data)
    if commits.last?.last?.type == HealingEvent.actionPlanned { commits[commits.count - 1].append(bareEvent) } else { commits.append([bareEvent]) }
}
let bare = try EventStore.open(at: freshDirectory("bare"))
let bareStart = DispatchTime.now().uptimeNanoseconds
for commit in commits { _ = try await bare.append(commit) }
let bareSeconds = Double(DispatchTime.now().uptimeNanoseconds - bareStart) / 1e9
bare.close()

// Raw LMDB: the same number of durable transactions, one record each.
let raw = RawLMDB(path: freshDirectory("raw"), indexed: false)
let records = commits.map { CBORWriter.encode(.array($0.map(\.data))) }
let rawSeconds = seconds { raw.append(records, keys: [], batch: 1) }

let perAction = guardedSeconds / Double(overheadSample) * 1e6
report("guarded_action", perAction, "us/action", vs: ("bare_append_same_events", bareSeconds / Double(overheadSample) * 1e6, "us/action"))
report("guarded_action", perAction, "us/action", vs: ("raw_lmdb_same_commits", rawSeconds / Double(overheadSample) * 1e6, "us/action"))
print("# \(Double(recorded.count) / Double(overheadSample)) events and \(Double(commits.count) / Double(overheadSample)) commits per action")

// 2. A 10,000-action scenario, end to end.
let (scenarioStore, scenarioEngine) = try await makeEngine("scenario")
let scenarioSeconds = try await {
    let s = DispatchTime.now().uptimeNanoseconds
    for n in 0..<actions { _ = try await scenarioEngine.run(action(n), reason: "bench") }
    return Double(DispatchTime.now().uptimeNanoseconds - s) / 1e9
}()
report("scenario_\(actions)_actions_total", scenarioSeconds, "s")
report("scenario_actions_per_second", Double(actions) / scenarioSeconds, "actions/s")
scenarioStore.close()
removeFreshDirectories()
