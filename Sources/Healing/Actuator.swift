import EventStore

/// What the embedding agent implements to really act on the mesh.
public protocol Actuator: Sendable {
    /// Performs `action` (attempt from 1). Returns the effect applied (usually the action
    /// itself), or throws `ActuatorFailure`.
    func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action
}

/// A failed attempt; only failures marked retryable are retried.
public struct ActuatorFailure: Error, Sendable, Equatable {
    public var message: String
    public var retryable: Bool
    public init(_ message: String, retryable: Bool) {
        self.message = message
        self.retryable = retryable
    }
}

/// Records without acting: every action succeeds with its planned effect.
public struct DryRunActuator: Actuator {
    public init() {}
    public func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action { action }
}

/// Waits between retries. Injected, so that simulations and tests advance a manual clock
/// instead of sleeping.
public protocol Sleeper: Sendable {
    func sleep(nanoseconds: Int64) async
}

/// Really sleeps (an agent in production).
public struct SystemSleeper: Sleeper {
    public init() {}
    public func sleep(nanoseconds: Int64) async { try? await Task.sleep(nanoseconds: UInt64(max(0, nanoseconds))) }
}

/// Advances a manual clock instead of sleeping: simulated time.
public struct ManualSleeper: Sleeper {
    public let clock: ManualClock
    public init(clock: ManualClock) { self.clock = clock }
    public func sleep(nanoseconds: Int64) async { clock.advance(nanoseconds: max(0, nanoseconds)) }
}
