import EventStore

/// How a key's concurrent writes combine; fixed by the key's first write.
public enum Strategy: String, Sendable, Hashable, Codable, CaseIterable {
    /// The greatest hybrid-logical-clock timestamp wins, ties by replica id.
    case lastWriteWins = "last_write_wins"
    /// A causally later write replaces an earlier one; concurrent writes resolve as
    /// last_write_wins and the replica records a `crdt.conflict` with the losing values.
    case vectorClock = "vector_clock"
    /// Concurrent values are all kept (a multi-value register).
    case mergeAll = "merge_all"
    /// Concurrent values are an open conflict until a resolve names them.
    case manual
    /// An add-wins observed-remove set.
    case addWinsSet = "add_wins_set"
    /// A counter that goes up and down (PN-counter).
    case pnCounter = "pn_counter"

    /// The register strategies (a key holding one value, or concurrent values).
    public var isRegister: Bool { self != .addWinsSet && self != .pnCounter }

    /// The operations a key of this strategy takes.
    var kinds: Set<OperationKind> {
        switch self {
        case .addWinsSet: return [.add, .remove]
        case .pnCounter: return [.increment]
        case .manual: return [.set, .delete, .resolve]
        case .lastWriteWins, .vectorClock, .mergeAll: return [.set, .delete]
        }
    }
}

/// What an operation does.
public enum OperationKind: String, Sendable, Hashable, Codable, CaseIterable {
    case set, delete, resolve, add, remove, increment
    /// Membership: `key` is the replica joining (`value` its node name) or leaving.
    case join, decommission
}

/// One replicated operation: a write to a key of a replicated map, or a membership change.
/// It is an event in the log of every replica that has it (`crdt.op`, `crdt.member_joined`,
/// `crdt.member_decommissioned`), in the stream `replica/ID` of the replica that made it, at
/// the stream version equal to its dot's counter.
public struct ReplicatedOperation: Sendable, Hashable {
    public var dot: Dot
    /// The causal context: what the origin had seen when it made the operation (its own
    /// earlier operations included, this one not).
    public var deps: VersionVector
    public var kind: OperationKind
    /// The replicated map's name (empty for membership).
    public var map: String
    /// The key within the map; for membership, the replica joining or leaving.
    public var key: String
    /// set, resolve: the value; add, remove: the element; increment: the (signed) amount;
    /// join: the node name; delete, decommission: nil.
    public var value: EventValue?
    /// nil for membership.
    public var strategy: Strategy?
    /// A resolve: the dots of the values it settles (all within `deps`).
    public var resolves: [Dot]
    /// The origin's envelope: its clock, physical time and node.
    public var hlc: HLC
    public var time: Timestamp
    public var node: String

    public init(dot: Dot, deps: VersionVector, kind: OperationKind, map: String, key: String, value: EventValue? = nil,
                strategy: Strategy?, resolves: [Dot] = [], hlc: HLC, time: Timestamp, node: String) {
        self.dot = dot
        self.deps = deps
        self.kind = kind
        self.map = map
        self.key = key
        self.value = value
        self.strategy = strategy
        self.resolves = resolves
        self.hlc = hlc
        self.time = time
        self.node = node
    }

    /// The largest amount one increment may carry: sums of such amounts stay exact in any JSON
    /// reader, and a counter saturates rather than overflows.
    public static let maximumIncrement: Int64 = 1 << 53

    /// The stream every replica's log holds this replica's operations in.
    public static func stream(of replica: String) -> String { "replica/\(replica)" }

    /// The event id: the same on every replica, so a store skips an operation it already holds.
    public var eventID: String { "crdt-\(dot.replica)-\(dot.counter)" }

    public var stream: String { Self.stream(of: dot.replica) }
}

/// The event types of the Replication domain (EVENTS.md).
public enum ReplicationEvent {
    public static let op = "crdt.op"
    public static let memberJoined = "crdt.member_joined"
    public static let memberDecommissioned = "crdt.member_decommissioned"
    public static let conflict = "crdt.conflict"
    public static let synced = "crdt.synced"
    public static let gc = "crdt.gc"

    /// The types that travel between replicas (each carries a dot).
    public static let replicated: Set<String> = [op, memberJoined, memberDecommissioned]
}
