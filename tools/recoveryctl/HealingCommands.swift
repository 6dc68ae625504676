import ArgumentParser
import EventStore
import Foundation
import Healing
import Policies
import RecoveryEngine
import MeshSimulation
import Projections

/// Runs a healing call, turning its errors into the CLI's failure.
func healingCall<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as HealingError {
        throw CLIFailure(code: error.isBadInput ? 2 : 1, message: error.description)
    } catch let error as ProjectionError {
        throw CLIFailure(code: error.isBadInput ? 2 : 1, message: error.description)
    } catch let error as StoreError {
        throw CLIFailure(error)
    }
}

/// An async subcommand run from the synchronous entry point.
protocol AsyncRun: ParsableCommand {
    func runAsync() async throws
}

extension AsyncRun {
    func run() throws {
        let box = ResultBox()
        let command = Unchecked(self)
        Task.detached {
            do { try await command.value.runAsync(); box.finish(nil) } catch { box.finish(error) }
        }
        if let error = box.wait() { throw error }
    }
}

/// Carries a parsed command to the task that runs it; only that task reads it, while the
/// calling thread waits.
final class Unchecked<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// Hands an async result to the waiting thread.
final class ResultBox: @unchecked Sendable {
    private let semaphore = DispatchSemaphore(value: 0)
    private var error: (any Error)?
    func finish(_ error: (any Error)?) {
        self.error = error
        semaphore.signal()
    }
    func wait() -> (any Error)? {
        semaphore.wait()
        return error
    }
}

struct DemoCommand: AsyncRun {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the simulated mesh incident, healed by the engine, and print its timeline.",
        discussion: "A region outage healed by failover through a flaky actuator (retried with backoff), an action storm cut by the rate limiter, a flapping node whose breaker opens, half-opens and closes, then a rollback to before the incident. The same seed gives the same log, ids and hashes included. On a store that already holds events, the demo starts a fresh store beside it.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "Seeds node names, ids and retry jitter.") var seed: UInt64 = 1
    @Option(help: "Mesh nodes (at least 3).") var nodes: Int = 6
    @Option(help: "A policy document (e.g. policies/mesh.json) every action must pass: published and activated in the demo store first.") var policy: String?

    func runAsync() async throws {
        guard (3...1000).contains(nodes) else { throw CLIFailure.usage("--nodes must be between 3 and 1000, not \(nodes)") }
        let document = try policy.map(readPolicyDocument)
        let path = freshStorePath(global.storePath)
        if path != global.storePath { print("note: \(global.storePath) already holds a store; this run uses \(path)\n") }
        var scenario = DemoScenario(seed: seed, nodes: nodes)
        let clock = ManualClock(DemoScenario.start)
        let store: EventStore
        do { store = try EventStore.open(at: path, options: scenario.storeOptions(clock: clock)) } catch { throw CLIFailure(error) }
        defer { store.close() }
        if let document {
            let book = try domainCall { try PolicyBook(store: store) }
            let version = try domainCall { try book.publish(document).version }
            try domainCall { try book.activate(document.name, version: version) }
            scenario.actionPolicy = PolicyGate(book: book, policy: document.name)
        }
        let mesh = scenario.makeMesh(clock: clock)
        let result = try await healingCall { try await scenario.run(store: store, clock: clock, mesh: mesh) }
        try Timeline.print(store: store)
        if let result {
            let rollback = result.rollback
            print("\nrolled back to seq \(result.beforeIncidentSeq): \(rollback.restored.count) keys restored, \(rollback.notRestored.count) not restored")
        }
        let head = try storeCall { try store.head() }
        print("""

        store: \(path) (\(head.seq) events, head \(head.seq):\(head.hash.hex))
        explore it:
          recoveryctl --store \(path) query --type action.succeeded
          recoveryctl --store \(path) actions --correlation incident-\(store.replicaID)-1
          recoveryctl --store \(path) breakers
          recoveryctl --store \(path) replay --projection topology --at-seq \(result?.beforeIncidentSeq ?? 1)
          recoveryctl --store \(path) diff --from \(result?.beforeIncidentSeq ?? 1) --to \(head.seq) --projection topology
          recoveryctl --store \(path) verify
        """)
    }

    /// `path` when it holds no events yet, else the first `path-N` that does not exist.
    func freshStorePath(_ path: String) -> String {
        var isDirectory: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: path + "/data.mdb", isDirectory: &isDirectory)
        guard exists else { return path }
        var n = 2
        while FileManager.default.fileExists(atPath: "\(path)-\(n)") { n += 1 }
        return "\(path)-\(n)"
    }
}

struct RollbackCommand: AsyncRun {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Restore the topology to its state at a seq, by compensating actions.",
        discussion: "--dry-run prints the compensating plan as JSON. --exec CMD [ARGS...] (last on the line; no shell) runs each compensation by invoking CMD with the action as JSON on stdin: exit 0 is success (stdout may carry a JSON {\"effect\": {kind, params}}), 75 a retryable failure, anything else a failure. Everything is recorded as the library does; exit 1 when some key could not be restored.")

    @OptionGroup var global: GlobalArguments
    @Option(name: .customLong("to-seq"), help: "The seq whose topology to restore.") var toSeq: UInt64
    @Flag(name: .customLong("dry-run"), help: "Print the plan; change nothing.") var dryRun = false
    @Option(name: .customLong("exec-timeout-ms"), help: "Stop a --exec command that runs longer than this (a retryable failure); before --exec.") var execTimeout: Int = 30_000
    @Option(name: .customLong("exec"), parsing: .remaining, help: "The command that performs each action, and its arguments.") var exec: [String] = []

    func validate() throws {
        if dryRun == !exec.isEmpty { throw ValidationError("give either --dry-run or --exec CMD") }
        if !(1...86_400_000).contains(execTimeout) { throw ValidationError("--exec-timeout-ms must be between 1 and 86400000 (a day)") }
    }

    func runAsync() async throws {
        let store = try global.openExisting()
        let actuator: any Actuator = exec.isEmpty ? DryRunActuator() : ExecActuator(command: exec, timeoutMilliseconds: execTimeout)
        let engine = try await healingCall { try await HealingEngine.open(store: store, config: HealingConfig(), actuator: actuator, concludingInterrupted: false) }
        if dryRun {
            let plan = try await healingCall { try await engine.planRollback(to: toSeq) }
            print(JSONWriter.encode(plan.document))
            return
        }
        let report = try await healingCall { try await engine.rollback(to: toSeq) }
        print(JSONWriter.encode(["to_seq": .int(Int64(report.toSeq)), "restored": .array(report.restored.map { .string($0) }),
                                 "not_restored": .array(report.notRestored.map { ["key": .string($0.key), "reason": .string($0.reason)] })]))
        if !report.notRestored.isEmpty {
            throw CLIFailure(code: 1, message: "\(report.notRestored.count) key(s) not restored: " + report.notRestored.map { "\($0.key) (\($0.reason))" }.joined(separator: "; "))
        }
    }
}

struct BreakersCommand: AsyncRun {
    static let configuration = CommandConfiguration(
        commandName: "breakers", abstract: "Every circuit breaker's state, counts and since when; operator overrides.",
        discussion: "--force-open, --force-closed and --reset record a breaker.transitioned event with --reason and --by, as the library's operator overrides do; a forced breaker stays so until reset.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "table or json.") var format: StateFormat = .table
    @Option(name: .customLong("force-open"), help: "Force this breaker open.") var forceOpen: String?
    @Option(name: .customLong("force-closed"), help: "Force this breaker closed.") var forceClosed: String?
    @Option(help: "Return this breaker to closed with fresh counts.") var reset: String?
    @Option(help: "Why (required with an override).") var reason: String?
    @Option(help: "Who (default $USER).") var by: String?

    func validate() throws {
        let overrides = [forceOpen, forceClosed, reset].compactMap { $0 }
        if overrides.count > 1 { throw ValidationError("give one of --force-open, --force-closed, --reset") }
        if overrides.count == 1, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("an override needs --reason")
        }
        if overrides.contains(where: { !$0.contains("/") }) { throw ValidationError("a breaker is named by its target, like node/NAME or service/NAME") }
    }

    func runAsync() async throws {
        let store = try global.openExisting()
        if let name = forceOpen ?? forceClosed ?? reset {
            let who = by ?? ProcessInfo.processInfo.environment["USER"] ?? "operator"
            let engine = try await healingCall { try await HealingEngine.open(store: store, config: HealingConfig(), actuator: DryRunActuator(), concludingInterrupted: false) }
            try await healingCall {
                if reset != nil {
                    try await engine.resetBreaker(name, reason: reason ?? "", by: who)
                } else {
                    try await engine.forceBreaker(name, open: forceOpen != nil, reason: reason ?? "", by: who)
                }
            }
        }
        let head = try storeCall { try store.head().seq }
        let states = head == 0 ? [:] : try projectionCall { try Replay(store: store, projection: BreakersProjection()).state(at: head).value }
        let breaker = CircuitBreaker()
        let now = store.options.clock.now()
        let rows = states.sorted { $0.key < $1.key }
        switch format {
        case .json:
            print(JSONWriter.encode(.array(rows.map { name, s in
                ["breaker": .string(name), "state": .string(s.phase.rawValue), "since": .string(Timestamp(nanoseconds: s.since).description),
                 "consecutive_failures": .int(Int64(s.consecutiveFailures)), "half_open_successes": .int(Int64(s.halfOpenSuccesses)),
                 "successes": .int(Int64(s.totalSuccesses)), "failures": .int(Int64(s.totalFailures)),
                 "eligible_for_trial": .bool(breaker.isEligibleForTrial(s, now: now))]
            })))
        case .table:
            print(pad("BREAKER", 28) + " " + pad("STATE", 14) + " " + pad("SINCE", 31) + " " + pad("FAILS", 6) + " " + pad("OK", 6) + " TRIAL")
            for (name, s) in rows {
                print(pad(name, 28) + " " + pad(s.phase.rawValue, 14) + " " + pad(Timestamp(nanoseconds: s.since).description, 31) + " "
                      + pad("\(s.totalFailures)", 6) + " " + pad("\(s.totalSuccesses)", 6) + " " + (breaker.isEligibleForTrial(s, now: now) ? "eligible" : "-"))
            }
        }
    }
}

struct ActionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "actions", abstract: "Every recovery action with attempts, outcome, duration, cause and compensation.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "Only the actions of this incident.") var correlation: String?
    @Option(help: "table or json.") var format: StateFormat = .table

    func run() throws {
        let store = try global.openExisting()
        let head = try storeCall { try store.head().seq }
        let all = head == 0 ? [:] : try projectionCall { try Replay(store: store, projection: ActionsProjection()).state(at: head).value }
        let rows = all.filter { correlation == nil || $0.value.correlation == correlation }.sorted { $0.value.plannedSeq < $1.value.plannedSeq }
        switch format {
        case .json:
            print(JSONWriter.encode(.array(rows.map { id, a in
                var fields: [String: EventValue] = ["action": .string(id), "kind": .string(a.kind), "target": .string(a.target), "params": a.params,
                                                    "outcome": .string(a.outcome), "attempts": .int(Int64(a.attempts)),
                                                    "duration_ms": .int(Int64(a.durationMilliseconds)), "reason": .string(a.reason),
                                                    "planned_seq": .int(Int64(a.plannedSeq))]
                if let c = a.correlation { fields["correlation"] = .string(c) }
                if let c = a.cause { fields["cause"] = .string(c) }
                if let c = a.compensates { fields["compensates"] = .string(c) }
                if let e = a.lastError { fields["last_error"] = .string(e) }
                if let inverse = a.inverse { fields["inverse"] = inverse }
                return .map(fields)
            })))
        case .table:
            print(pad("ACTION", 9) + " " + pad("KIND", 12) + " " + pad("TARGET", 22) + " " + pad("OUTCOME", 10) + " " + pad("TRIES", 5) + " " + pad("MS", 6) + " " + pad("INCIDENT", 11) + " REASON")
            for (id, a) in rows {
                print(pad(id, 9) + " " + pad(a.kind, 12) + " " + pad(a.target, 22) + " " + pad(a.outcome, 10) + " " + pad("\(a.attempts)", 5) + " "
                      + pad("\(a.durationMilliseconds)", 6) + " " + pad(a.correlation ?? "-", 11) + " " + a.reason + (a.compensates.map { " (\($0))" } ?? ""))
            }
        }
    }
}
