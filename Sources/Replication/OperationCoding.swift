import EventStore

/// Reading and writing operations as events, and checking an operation on its own (before
/// any state is consulted). Every operation from outside passes `checked()`.
extension ReplicatedOperation {
    /// At most this many replicas in one causal context (a bound on hostile input, far above
    /// any mesh this engine serves).
    public static let maximumReplicas = 4_096

    /// Throws when the operation is not well formed: names, the dot against its own context,
    /// the kind against the strategy, the value the kind needs.
    public func checked() throws(PayloadError) -> ReplicatedOperation {
        guard ReplicaID.isValid(dot.replica) else { throw PayloadError(field: "data.dot.replica", message: "'\(dot.replica)' is not a replica id") }
        guard dot.counter >= 1, dot.counter <= UInt64(Int64.max) else { throw PayloadError(field: "data.dot.counter", message: "must be 1 or more") }
        guard deps.counters.count <= Self.maximumReplicas else { throw PayloadError(field: "data.deps", message: "more than \(Self.maximumReplicas) replicas") }
        for (replica, count) in deps.counters {
            guard ReplicaID.isValid(replica) else { throw PayloadError(field: "data.deps", message: "'\(replica)' is not a replica id") }
            guard count <= UInt64(Int64.max) else { throw PayloadError(field: "data.deps.\(replica)", message: "out of range") }
        }
        guard deps[dot.replica] == dot.counter - 1 else {
            throw PayloadError(field: "data.deps", message: "the origin's own count must be \(dot.counter - 1), one less than the dot's, not \(deps[dot.replica])")
        }
        try Self.checkName(node, field: "node")
        switch kind {
        case .join, .decommission:
            guard strategy == nil, map.isEmpty else { throw PayloadError(field: "data", message: "a membership change has no map or strategy") }
            guard ReplicaID.isValid(key) else { throw PayloadError(field: "data.replica", message: "'\(key)' is not a replica id") }
            if kind == .join {
                guard case .string(let name)? = value else { throw PayloadError(field: "data.node", message: "required") }
                try Self.checkName(name, field: "data.node")
            }
            if kind == .decommission {
                guard key != dot.replica else { throw PayloadError(field: "data.replica", message: "a replica cannot decommission itself") }
                guard value == nil else { throw PayloadError(field: "data", message: "a decommissioning carries no value") }
            }
        default:
            guard let strategy else { throw PayloadError(field: "data.strategy", message: "required") }
            guard strategy.kinds.contains(kind) else {
                throw PayloadError(field: "data.op", message: "'\(kind.rawValue)' does not apply to a \(strategy.rawValue) key")
            }
            try Self.checkName(map, field: "data.crdt")
            try Self.checkName(key, field: "data.key")
            switch kind {
            case .delete: guard value == nil else { throw PayloadError(field: "data.value", message: "a delete carries no value") }
            case .increment:
                guard case .int(let amount)? = value, amount.magnitude <= UInt64(Self.maximumIncrement) else {
                    throw PayloadError(field: "data.value", message: "an increment is an integer within ±2^53")
                }
            default: guard value != nil else { throw PayloadError(field: "data.value", message: "required") }
            }
        }
        if kind == .resolve {
            guard resolves.allSatisfy(deps.contains) else {
                throw PayloadError(field: "data.resolves", message: "names a value its origin had not seen")
            }
        } else if !resolves.isEmpty {
            throw PayloadError(field: "data.resolves", message: "only a resolve names values")
        }
        return self
    }

    static func checkName(_ name: String, field: String) throws(PayloadError) {
        guard !name.isEmpty, name.utf8.count <= 512, !name.utf8.contains(0) else {
            throw PayloadError(field: field, message: "must be 1 to 512 bytes without NUL")
        }
    }

    /// The event type that records this operation.
    public var eventType: String {
        switch kind {
        case .join: return ReplicationEvent.memberJoined
        case .decommission: return ReplicationEvent.memberDecommissioned
        default: return ReplicationEvent.op
        }
    }

    /// The payload (EVENTS.md).
    public var payload: EventValue {
        var data: [String: EventValue] = ["dot": Self.document(dot), "deps": Self.document(deps)]
        switch kind {
        case .join:
            data["replica"] = .string(key)
            data["node"] = value ?? .null
        case .decommission:
            data["replica"] = .string(key)
            data["by"] = .string(dot.replica)
        default:
            data["crdt"] = .string(map)
            data["key"] = .string(key)
            data["op"] = .string(kind.rawValue)
            data["strategy"] = .string(strategy?.rawValue ?? "")
            if let value { data["value"] = value }
            if !resolves.isEmpty { data["resolves"] = .array(resolves.map(Self.document)) }
        }
        return .map(data)
    }

    /// The event a replica appends for this operation: its id, stream and origin envelope.
    public var newEvent: NewEvent {
        NewEvent(type: eventType, stream: stream, data: payload, id: eventID, time: time, hlc: hlc, node: node)
    }

    /// Reads an operation from an event's type, payload and envelope; nil for other types.
    public init?(event: Event) throws(PayloadError) {
        try self.init(event: event, checking: true)
    }

    /// `checking: false` skips `checked()`, for operations read back from a log whose
    /// projection delivered them (so they were checked when they arrived).
    init?(event: Event, checking: Bool) throws(PayloadError) {
        guard ReplicationEvent.replicated.contains(event.type) else { return nil }
        try self.init(type: event.type, data: event.data, hlc: event.hlc, time: event.time, node: event.node, checking: checking)
        guard event.stream == stream else { throw PayloadError(field: "stream", message: "must be \(stream) for dot \(dot)") }
        guard event.version == dot.counter else {
            throw PayloadError(field: "version", message: "\(event.version) is not the dot's counter \(dot.counter)")
        }
    }

    /// Reads an operation from its payload and origin envelope, checked.
    public init(type: String, data: EventValue, hlc: HLC, time: Timestamp, node: String) throws(PayloadError) {
        try self.init(type: type, data: data, hlc: hlc, time: time, node: node, checking: true)
    }

    init(type: String, data: EventValue, hlc: HLC, time: Timestamp, node: String, checking: Bool) throws(PayloadError) {
        let d = try PayloadReader(data)
        let dot = try Self.dot(try d.object("dot"), path: "data.dot")
        let deps = try Self.vector(d.value("deps"), path: "data.deps")
        switch type {
        case ReplicationEvent.memberJoined:
            self.init(dot: dot, deps: deps, kind: .join, map: "", key: try d.string("replica"), value: .string(try d.string("node")),
                      strategy: nil, hlc: hlc, time: time, node: node)
        case ReplicationEvent.memberDecommissioned:
            self.init(dot: dot, deps: deps, kind: .decommission, map: "", key: try d.string("replica"), strategy: nil,
                      hlc: hlc, time: time, node: node)
            guard try d.string("by") == dot.replica else { throw PayloadError(field: "data.by", message: "must be the dot's replica") }
        case ReplicationEvent.op:
            guard let kind = OperationKind(rawValue: try d.string("op")), kind != .join, kind != .decommission else {
                throw PayloadError(field: "data.op", message: "one of set, delete, resolve, add, remove, increment")
            }
            guard let strategy = Strategy(rawValue: try d.string("strategy")) else {
                throw PayloadError(field: "data.strategy", message: "one of " + Strategy.allCases.map(\.rawValue).joined(separator: ", "))
            }
            let resolves = try d.optionalArray("resolves") { value, path throws(PayloadError) in
                try Self.dot(try PayloadReader(value, path: path), path: path)
            } ?? []
            self.init(dot: dot, deps: deps, kind: kind, map: try d.string("crdt"), key: try d.string("key"), value: d.fields["value"],
                      strategy: strategy, resolves: resolves, hlc: hlc, time: time, node: node)
        default:
            throw PayloadError(field: "type", message: "'\(type)' is not a replicated operation")
        }
        if checking { self = try checked() }
    }

    static func document(_ dot: Dot) -> EventValue {
        ["replica": .string(dot.replica), "counter": .int(Int64(dot.counter))]
    }

    static func document(_ vector: VersionVector) -> EventValue {
        .map(vector.counters.mapValues { .int(Int64(clamping: $0)) })
    }

    static func dot(_ d: PayloadReader, path: String) throws(PayloadError) -> Dot {
        Dot(replica: try d.string("replica"), counter: UInt64(try d.int("counter", in: 1...Int64.max)))
    }

    /// A version vector written as `{replica: count}`.
    public static func vector(_ value: EventValue?, path: String) throws(PayloadError) -> VersionVector {
        guard case .map(let fields)? = value else { throw PayloadError(field: path, message: "an object of replica counts is required") }
        guard fields.count <= maximumReplicas else { throw PayloadError(field: path, message: "more than \(maximumReplicas) replicas") }
        var counters: [String: UInt64] = [:]
        for (replica, count) in fields {
            guard ReplicaID.isValid(replica) else { throw PayloadError(field: path, message: "'\(replica)' is not a replica id") }
            guard case .int(let n) = count, n >= 0 else { throw PayloadError(field: "\(path).\(replica)", message: "a count of 0 or more") }
            counters[replica] = UInt64(n)
        }
        return VersionVector(counters)
    }
}

/// Checks the Replication domain's payloads at append (`StoreOptions.vocabularies`).
public struct ReplicationVocabulary: EventVocabulary {
    public init() {}

    public func validate(type: String, data: EventValue) throws(PayloadError) {
        switch type {
        case _ where ReplicationEvent.replicated.contains(type):
            _ = try ReplicatedOperation(type: type, data: data, hlc: .zero, time: Timestamp(nanoseconds: 0), node: "check")
        case ReplicationEvent.synced:
            _ = try SyncedPayload(data)
        case ReplicationEvent.gc:
            _ = try ReplicatedOperation.vector(try PayloadReader(data).value("stable_vv"), path: "data.stable_vv")
        case ReplicationEvent.conflict:
            let d = try PayloadReader(data)
            _ = try d.string("crdt")
            _ = try d.string("key")
        default:
            return
        }
    }
}

/// `crdt.synced` {peer, sent, received, peer_vv, peer_acks?}: what a peer acknowledged having
/// seen, and what it reported of the others (acknowledgements travel, so every replica learns
/// how far each member got).
struct SyncedPayload {
    var peer: String
    var peerVector: VersionVector
    var peerAcks: [String: VersionVector]

    init(_ data: EventValue) throws(PayloadError) {
        let d = try PayloadReader(data)
        peer = try d.string("peer")
        guard ReplicaID.isValid(peer) else { throw PayloadError(field: "data.peer", message: "'\(peer)' is not a replica id") }
        peerVector = try ReplicatedOperation.vector(d.value("peer_vv"), path: "data.peer_vv")
        _ = try d.int("sent", in: 0...Int64.max)
        _ = try d.int("received", in: 0...Int64.max)
        peerAcks = [:]
        if let acks = try d.optionalObject("peer_acks") {
            guard acks.fields.count <= ReplicatedOperation.maximumReplicas else { throw PayloadError(field: "data.peer_acks", message: "too many replicas") }
            for (replica, vector) in acks.fields {
                guard ReplicaID.isValid(replica) else { throw PayloadError(field: "data.peer_acks", message: "'\(replica)' is not a replica id") }
                peerAcks[replica] = try ReplicatedOperation.vector(vector, path: "data.peer_acks.\(replica)")
            }
        }
    }
}
