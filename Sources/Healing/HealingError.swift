import EventStore
import Projections

/// Why the healing engine refused or could not complete something.
public enum HealingError: Error, Sendable, CustomStringConvertible, Equatable {
    /// An action request that names an unknown kind or carries invalid params.
    case invalidAction(String)
    /// A rollback target outside the log.
    case invalidRollback(String)
    /// A runbook or runbook version that does not exist.
    case invalidRunbook(String)
    /// The actuator's reply could not be understood.
    case malformedActuatorReply(String)
    case store(String)
    /// The store refused or failed an append or a read; nothing of a failed append was written.
    case storeFailure(StoreError)

    public var description: String {
        switch self {
        case .invalidAction(let message): return "invalid action: \(message)"
        case .invalidRollback(let message): return "invalid rollback: \(message)"
        case .invalidRunbook(let message): return message
        case .malformedActuatorReply(let message): return "malformed actuator reply: \(message)"
        case .store(let message): return message
        case .storeFailure(let error): return error.description
        }
    }

    /// Bad input from the caller (exit 2 in recoveryctl) rather than a problem found.
    public var isBadInput: Bool {
        switch self {
        case .invalidAction, .invalidRollback, .invalidRunbook, .malformedActuatorReply: return true
        case .store: return false
        case .storeFailure(let error): return error.isBadInput
        }
    }

    static func wrap(_ error: any Error) -> HealingError {
        if let healing = error as? HealingError { return healing }
        if let store = error as? StoreError { return .storeFailure(store) }
        if let projection = error as? ProjectionError {
            return projection.isBadInput ? .invalidRollback(projection.description) : .store(projection.description)
        }
        return .store("\(error)")
    }
}
