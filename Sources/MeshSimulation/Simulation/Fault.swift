import EventStore
import Healing

/// The faults a simulated seed can meet. Each is chosen by the seed, so a failing seed
/// reproduces exactly.
public enum Fault: String, CaseIterable, Sendable, Comparable {
    /// The actuator fails the call (retryably or not).
    case actuatorFailure = "actuator_failure"
    /// The actuator call times out after a long wait (retryable).
    case actuatorTimeout = "actuator_timeout"
    /// The actuator call succeeds, slowly.
    case slowCall = "slow_call"
    case clockForward = "clock_forward"
    case clockBack = "clock_back"
    /// The process dies while the actuator runs, and restarts from its store.
    case killedMidAction = "killed_mid_action"
    /// The process dies between cycles, and restarts from its store.
    case killedBetweenCycles = "killed_between_cycles"
    /// The map reaches its maximum size (a full disk).
    case diskFull = "disk_full"
    /// A commit fails with EIO or ENOSPC (the hook at the LMDB boundary).
    case commitEIO = "commit_eio"
    case commitENOSPC = "commit_enospc"
    /// A malformed healing event arrives by import (refused, nothing written).
    case malformedImport = "malformed_import"
    /// A malformed event written by an older version (no payload checks) sits in the log.
    case legacyMalformed = "legacy_malformed"

    public static func < (a: Fault, b: Fault) -> Bool { a.rawValue < b.rawValue }
}

/// Commit faults armed by the simulation and consulted by the store's `commitFault` hook.
final class CommitFaults: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    private let lock = Mutex()
    private var pending: Int32?

    /// The next commit fails with `code`.
    func arm(_ code: Int32) { lock.withLock { pending = code } }
    func disarm() { lock.withLock { pending = nil } }
    var isArmed: Bool { lock.withLock { pending != nil } }

    /// The hook: fires once.
    func next() -> Int32? {
        lock.withLock {
            defer { pending = nil }
            return pending
        }
    }
}

/// The mesh as the engine's actuator, with the seed's faults in between: failures, timeouts,
/// slow calls, and a kill while a call is under way.
final class FaultyActuator: Actuator, @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    private let lock = Mutex()
    private let mesh: Mesh
    private let clock: ManualClock
    private var rng: SplitMix64
    /// Chance in 100 per call of each fault.
    private let failurePercent: UInt64, timeoutPercent: UInt64, slowPercent: UInt64
    private var killArmed = false
    /// Calls cut off by a kill, held until the run has closed the dead process's store.
    private var killed: [UnsafeContinuation<Void, Never>] = []
    private(set) var counts: [Fault: Int] = [:]
    /// Told when the process "dies" in a call: the call then never returns.
    var onKill: (@Sendable () -> Void)?

    init(mesh: Mesh, clock: ManualClock, seed: UInt64, failurePercent: UInt64, timeoutPercent: UInt64, slowPercent: UInt64) {
        self.mesh = mesh
        self.clock = clock
        rng = SplitMix64(seed: seed ^ 0xac70_a70c)
        self.failurePercent = failurePercent
        self.timeoutPercent = timeoutPercent
        self.slowPercent = slowPercent
    }

    /// Whether the next call kills the process.
    func armKill(_ armed: Bool) { lock.withLock { killArmed = armed } }

    /// Lets the calls a kill cut off return, once the dead process's store is closed.
    func releaseKilled() {
        for continuation in lock.withLock({ () -> [UnsafeContinuation<Void, Never>] in defer { killed = [] }; return killed }) {
            continuation.resume()
        }
    }
    var faultCounts: [Fault: Int] { lock.withLock { counts } }

    func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action {
        enum Decision { case kill, fail(Bool), timeout, slow(Int64), pass }
        let decision: Decision = lock.withLock {
            if killArmed {
                killArmed = false
                counts[.killedMidAction, default: 0] += 1
                return .kill
            }
            let roll = rng.next() % 100
            if roll < failurePercent {
                counts[.actuatorFailure, default: 0] += 1
                return .fail(rng.next() % 2 == 0)
            }
            if roll < failurePercent + timeoutPercent {
                counts[.actuatorTimeout, default: 0] += 1
                return .timeout
            }
            if roll < failurePercent + timeoutPercent + slowPercent {
                counts[.slowCall, default: 0] += 1
                return .slow(Int64(1 + rng.next() % 20) * 1_000_000_000)
            }
            return .pass
        }
        switch decision {
        case .kill:
            // The process is gone: the call returns only once its store is closed, so that
            // nothing it does next reaches the log (the engine's appends fail on a closed
            // store) and its task can end instead of holding the store for good.
            await withUnsafeContinuation { continuation in
                lock.withLock { killed.append(continuation) }
                onKill?()
            }
            throw ActuatorFailure("killed", retryable: false)
        case .fail(let retryable):
            throw ActuatorFailure("injected failure", retryable: retryable)
        case .timeout:
            clock.advance(nanoseconds: 30_000_000_000)
            throw ActuatorFailure("injected timeout after 30 s", retryable: true)
        case .slow(let nanoseconds):
            clock.advance(nanoseconds: nanoseconds)
            return try await mesh.perform(action, actionID: actionID, attempt: attempt)
        case .pass:
            return try await mesh.perform(action, actionID: actionID, attempt: attempt)
        }
    }
}

/// How one cycle ended: normally, with an error, or with the process killed inside it.
enum CycleOutcome: Sendable {
    case completed
    case failed(HealingError)
    case killed
}

/// The first of a cycle's end and a kill inside it, whichever comes first.
final class CycleLatch: @unchecked Sendable {
    // @unchecked: every field is guarded by `lock`.
    private let lock = Mutex()
    private var outcome: CycleOutcome?
    private var waiter: CheckedContinuation<CycleOutcome, Never>?

    func finish(_ result: CycleOutcome) {
        let resume: CheckedContinuation<CycleOutcome, Never>? = lock.withLock {
            guard outcome == nil else { return nil }
            outcome = result
            defer { waiter = nil }
            return waiter
        }
        resume?.resume(returning: result)
    }

    func wait() async -> CycleOutcome {
        await withCheckedContinuation { continuation in
            let ready: CycleOutcome? = lock.withLock {
                if let outcome { return outcome }
                waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
