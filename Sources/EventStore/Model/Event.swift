#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An event as the log holds it: the envelope of EVENTS.md.
public struct Event: Sendable, Hashable {
    /// Position in this store's log, from 1.
    public var seq: UInt64
    /// Identity across all nodes; appending an id the store holds is a no-op.
    public var id: String
    public var time: Timestamp
    public var hlc: HLC
    /// The node where the event originated.
    public var node: String
    /// What the event is about, e.g. `breaker/route:api`.
    public var stream: String
    /// Position within the stream, from 1.
    public var version: UInt64
    public var type: String
    public var tags: [String: String]
    /// The payload, always a map.
    public var data: EventValue
    public var causation: String?
    public var correlation: String?
    /// The previous record's hash (32 zero bytes for the first record).
    public var prev: Digest
    /// SHA-256(prev ‖ canonical bytes of this envelope without `hash`).
    public var hash: Digest
}

extension Event {
    /// An event as a store would hand it out; for projections fed by hand (tests, fuzzing,
    /// tools), since only the store assigns real positions and hashes. (An extension, so that
    /// the store keeps the memberwise initialiser: this one, called per record, measured 4%
    /// more instructions in a full scan.)
    public init(seq: UInt64, stream: String, type: String, data: EventValue, id: String = "", time: Timestamp = Timestamp(nanoseconds: 0),
                hlc: HLC = .zero, node: String = "", version: UInt64 = 1, tags: [String: String] = [:],
                causation: String? = nil, correlation: String? = nil, prev: Digest = .zero, hash: Digest = .zero) {
        self.init(seq: seq, id: id, time: time, hlc: hlc, node: node, stream: stream, version: version, type: type, tags: tags,
                  data: data, causation: causation, correlation: correlation, prev: prev, hash: hash)
    }
}

/// An event to append. Everything but `type`, `stream` and `data` is optional and filled by the
/// store: `id` from the node and hybrid logical clock, `time` from the store's clock, `node`
/// from the store's node id.
public struct NewEvent: Sendable, Hashable {
    public var id: String?
    public var type: String
    public var stream: String
    public var data: EventValue
    public var tags: [String: String]
    public var time: Timestamp?
    /// A timestamp assigned elsewhere (an imported or replicated event). It is kept, and the
    /// store's clock advances past it, unless it is too far ahead of the local wall clock.
    public var hlc: HLC?
    public var node: String?
    public var causation: String?
    public var correlation: String?

    public init(type: String, stream: String, data: EventValue = .map([:]), tags: [String: String] = [:],
                id: String? = nil, time: Timestamp? = nil, hlc: HLC? = nil, node: String? = nil,
                causation: String? = nil, correlation: String? = nil) {
        self.type = type
        self.stream = stream
        self.data = data
        self.tags = tags
        self.id = id
        self.time = time
        self.hlc = hlc
        self.node = node
        self.causation = causation
        self.correlation = correlation
    }

    static let maximumNameBytes = 512
    /// A single record's canonical bytes may not exceed this (larger payloads belong elsewhere).
    public static let maximumRecordBytes = 4 << 20

    /// Checks the fields the log indexes: non-empty names without NUL (which separates index
    /// keys), tag keys without `=` (which separates tag key and value in the index), a map payload
    /// with finite numbers. `payloadValues: false` leaves the walk through the payload's values
    /// to a caller that encodes the payload anyway (`CBORWriter.sawNonFinite`).
    func validate(payloadValues: Bool = true) throws(EventValidationError) {
        try Self.checkName(type, field: "type")
        try Self.checkName(stream, field: "stream")
        if let id { try Self.checkName(id, field: "id") }
        if let node { try Self.checkName(node, field: "node") }
        if let causation { try Self.checkName(causation, field: "causation") }
        if let correlation { try Self.checkName(correlation, field: "correlation") }
        for (key, value) in tags {
            try Self.checkName(key, field: "tags")
            guard !Self.contains(UInt8(ascii: "="), in: key) else {
                throw EventValidationError(field: "tags.\(key)", message: "a tag key may not contain '='")
            }
            guard !Self.contains(0, in: value), value.utf8.count <= Self.maximumNameBytes else {
                throw EventValidationError(field: "tags.\(key)", message: "tag values are at most \(Self.maximumNameBytes) bytes without NUL")
            }
        }
        guard case .map = data else {
            throw EventValidationError(field: "data", message: "must be an object, not \(data.kindName)")
        }
        if payloadValues { try validatePayloadValues() }
        if let hlc, hlc.wall < 0 { throw EventValidationError(field: "hlc.wall", message: "must not be negative") }
    }

    /// Throws, naming the field's path, when the payload holds a value the log refuses.
    func validatePayloadValues() throws(EventValidationError) {
        do { try data.validate(path: "data") } catch {
            throw EventValidationError(field: error.path, message: error.message)
        }
    }

    /// Whether the text holds the byte; `memchr` over native strings (the generic `contains`
    /// on a UTF-8 view was 2% of an append profile).
    private static func contains(_ byte: UInt8, in value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.baseAddress.map { memchr($0, Int32(byte), bytes.count) != nil } ?? false
        } ?? value.utf8.contains(byte)
    }

    static func checkName(_ value: String, field: String) throws(EventValidationError) {
        let utf8 = value.utf8
        guard !utf8.isEmpty else { throw EventValidationError(field: field, message: "must not be empty") }
        guard utf8.count <= maximumNameBytes else {
            throw EventValidationError(field: field, message: "longer than \(maximumNameBytes) bytes")
        }
        guard !contains(0, in: value) else { throw EventValidationError(field: field, message: "contains a NUL character") }
    }
}

/// Why an event was refused before anything was written.
public struct EventValidationError: Error, Sendable, CustomStringConvertible {
    public var field: String
    public var message: String
    public var description: String { "field \(field): \(message)" }
}

/// What a stream must look like for an append to go ahead (optimistic concurrency).
public enum ExpectedVersion: Sendable, Hashable {
    /// No check.
    case any
    /// The stream must not exist yet.
    case noStream
    /// The stream's head version must be exactly this (0 means no stream).
    case exactly(UInt64)

    /// Whether a stream at version `current` meets the expectation.
    public func admits(_ current: UInt64) -> Bool {
        switch self {
        case .any: return true
        case .noStream: return current == 0
        case .exactly(let v): return current == v
        }
    }
}

/// The outcome of one append call.
public struct AppendResult: Sendable, Hashable {
    /// The position of each event of the call, in order. An event whose id the store already
    /// held reports the position it was first written at.
    public var positions: [UInt64]
    /// How many events were written; the rest were already in the store.
    public var written: Int

    public init(positions: [UInt64], written: Int) {
        self.positions = positions
        self.written = written
    }
}
