/// Every way the store can refuse or fail, with a message a person can act on.
public enum StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A read-only operation named a store that does not exist.
    case storeNotFound(path: String)
    /// The directory holds files, but not a RecoveryEngine store.
    case notAStore(path: String, reason: String)
    /// The store was written by a newer version of RecoveryEngine.
    case newerFormat(path: String, found: Int, supported: Int)
    /// data.mdb is shorter than its own meta pages say; LMDB would crash reading it.
    case truncated(path: String, expectedBytes: UInt64, actualBytes: UInt64)
    /// The directory or its files cannot be written.
    case readOnly(path: String)
    /// The disk (or a file-size limit) is full; nothing of the failed transaction was written.
    case diskFull(path: String)
    /// Every LMDB reader slot is taken (raise `maxReaders`, or look for stuck readers).
    case tooManyReaders(maximum: Int)
    /// A stream was not at the version the append expected; nothing of that batch was written.
    case conflict(stream: String, expected: ExpectedVersion, actual: UInt64)
    /// An event was refused before anything was written.
    case invalidEvent(index: Int, field: String, message: String)
    /// A remote timestamp is too far ahead of the local clock.
    case clockAhead(eventIndex: Int, remoteMicros: Int64, localMicros: Int64, boundMicros: Int64)
    /// A batch larger than one transaction should carry.
    case batchTooLarge(bytes: Int, maximum: Int)
    /// Stored bytes do not decode; the position names where.
    case corrupt(seq: UInt64, String)
    /// A key or value in one of the store's databases has a length or layout no version of the
    /// store writes (a corrupt or crafted file).
    case malformedEntry(String)
    /// A position or argument outside what the store holds.
    case outOfRange(String)
    /// The position was moved out of the live store by retention (`removeArchived`): the
    /// live log starts at `liveFrom`, and `location` is the segment that holds it.
    case archived(seq: UInt64, liveFrom: UInt64, location: String)
    /// The store was closed.
    case closed
    case crypto(String)
    /// Any other LMDB or I/O failure, with the operation and LMDB's own message.
    case io(operation: String, code: Int32, message: String)

    public var description: String {
        switch self {
        case .storeNotFound(let path): return "no store at \(path)"
        case .notAStore(let path, let reason): return "\(path) is not a RecoveryEngine store: \(reason)"
        case .newerFormat(let path, let found, let supported):
            return "\(path) has store format \(found); this build reads format \(supported) and older: upgrade RecoveryEngine"
        case .truncated(let path, let expected, let actual):
            return "\(path) is truncated: its meta page needs \(expected) bytes but the file has \(actual); restore it from a backup"
        case .readOnly(let path): return "\(path) is read-only: cannot write the store there"
        case .diskFull(let path): return "no space left for \(path): the transaction was rolled back and the store is intact"
        case .tooManyReaders(let maximum): return "all \(maximum) reader slots are in use: raise maxReaders or end idle readers"
        case .conflict(let stream, let expected, let actual):
            return "conflict on stream \(stream): expected \(expected), found version \(actual)"
        case .invalidEvent(let index, let field, let message): return "event \(index + 1): field \(field): \(message)"
        case .clockAhead(let index, let remote, let local, let bound):
            return "event \(index + 1): hlc \(remote) µs is \(remote - local) µs ahead of the local clock (bound \(bound) µs)"
        case .batchTooLarge(let bytes, let maximum): return "batch of \(bytes) bytes exceeds the maximum \(maximum): split it"
        case .corrupt(let seq, let message): return "corrupt record at seq \(seq): \(message)"
        case .malformedEntry(let message): return "corrupt store: \(message)"
        case .outOfRange(let message): return message
        case .archived(let seq, let liveFrom, let location):
            return "seq \(seq) is archived: this store holds seq \(liveFrom) onwards; the archive is \(location)"
        case .closed: return "the store is closed"
        case .crypto(let message): return message
        case .io(let operation, let code, let message): return "\(operation) failed: \(message) (\(code))"
        }
    }

    /// True when the error is the caller's input, not the store's state (exit code 2 in the CLI).
    public var isBadInput: Bool {
        switch self {
        case .storeNotFound, .notAStore, .newerFormat, .invalidEvent, .clockAhead, .batchTooLarge, .outOfRange, .readOnly, .archived:
            return true
        default:
            return false
        }
    }
}

extension ExpectedVersion: CustomStringConvertible {
    public var description: String {
        switch self {
        case .any: return "any version"
        case .noStream: return "no stream"
        case .exactly(let v): return "version \(v)"
        }
    }
}
