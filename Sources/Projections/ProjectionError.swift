import EventStore

/// Why a replay, diff or rebuild could not be done.
public enum ProjectionError: Error, Sendable, CustomStringConvertible {
    /// A point outside the log (before its first event, after its head, or in an empty log).
    case pointOutOfRange(String)
    case unknownProjection(name: String, known: [String])
    case unencodableState(projection: String, reason: String)
    case undecodableState(reason: String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .pointOutOfRange(let message): return message
        case .unknownProjection(let name, let known):
            return "no projection named '\(name)' (known: \(known.joined(separator: ", ")))"
        case .unencodableState(let projection, let reason): return "projection \(projection) produced a state that cannot be encoded: \(reason)"
        case .undecodableState(let reason): return "a stored state cannot be decoded: \(reason)"
        case .store(let error): return error.description
        }
    }

    /// True when the caller asked for something impossible (exit 2), not when the store is damaged.
    public var isBadInput: Bool {
        switch self {
        case .pointOutOfRange, .unknownProjection: return true
        case .store(let error): return error.isBadInput
        case .unencodableState, .undecodableState: return false
        }
    }
}

/// Runs a store call, wrapping its error.
func storeStep<T>(_ body: () throws -> T) throws(ProjectionError) -> T {
    do { return try body() } catch let error as ProjectionError {
        throw error
    } catch let error as StoreError {
        throw .store(error)
    } catch {
        throw .store(.io(operation: "replaying", code: -1, message: "\(error)"))
    }
}
