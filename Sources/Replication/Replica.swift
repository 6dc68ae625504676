import EventStore

/// One replica of the shared state: local writes become operations in its log, sync messages
/// bring other replicas' operations in, in causal order. Not thread-safe: one replica is driven
/// from one place at a time (other processes may append to the same store; the stream version
/// check keeps each dot unique).
///
/// ```swift
/// let replica = try Replica(log: StoreLog(store: store))
/// try replica.put(map: "config", key: "primary_region", value: "eu-west")
/// let response = try peer.respond(to: replica.syncRequest())
/// try replica.receive(response)
/// ```
public final class Replica {
    public let log: any OperationLog
    /// Operations received before their dependencies, waiting (in memory).
    public internal(set) var waiting: [ReplicatedOperation] = []
    public let bufferLimit: Int

    public init(log: any OperationLog, bufferLimit: Int = 10_000) {
        self.log = log
        self.bufferLimit = bufferLimit
    }

    public var id: String { log.replicaID }

    public func state() throws(ReplicationError) -> ReplicatedState { try log.state() }

    // MARK: Local writes

    /// Writes `value` under `key`. `strategy` is needed only on the key's first write (default
    /// last_write_wins); another strategy than the key's is a `strategyConflict`.
    @discardableResult
    public func put(map: String = "default", key: String, value: EventValue, strategy: Strategy? = nil) throws(ReplicationError) -> Dot {
        try write(map: map, key: key, strategy: strategy, default: .lastWriteWins, registers: true) { state, strategy throws(ReplicationError) in
            if strategy == .manual, state.entry(map: map, key: key)?.hasOpenConflict == true {
                throw .refused("key '\(key)' has an open conflict: settle it with a resolve")
            }
            return (.set, value, [])
        }
    }

    /// Deletes `key` (a tombstone until garbage collection).
    @discardableResult
    public func delete(map: String = "default", key: String) throws(ReplicationError) -> Dot {
        try write(map: map, key: key, strategy: nil, default: .lastWriteWins, registers: true) { state, _ throws(ReplicationError) in
            guard let entry = state.entry(map: map, key: key), entry.strategy.isRegister, !entry.isTombstone else {
                throw .refused("map '\(map)' has no key '\(key)' to delete")
            }
            return (.delete, nil, [])
        }
    }

    /// Settles a manual key's open conflict with `value`, naming every value it replaces.
    @discardableResult
    public func resolve(map: String = "default", key: String, value: EventValue) throws(ReplicationError) -> Dot {
        try write(map: map, key: key, strategy: nil, default: .manual, registers: true) { state, strategy throws(ReplicationError) in
            guard strategy == .manual, let entry = state.entry(map: map, key: key) else {
                throw .refused("only a manual key with values can be resolved")
            }
            guard !entry.siblings.isEmpty else { throw .refused("key '\(key)' has nothing to resolve") }
            // Values compacted by collection have no dot left; every later write covers them.
            return (.resolve, value, entry.siblings.compactMap(\.dot))
        }
    }

    /// Adds `element` to the add-wins set under `key`.
    @discardableResult
    public func add(map: String = "default", set key: String, element: EventValue) throws(ReplicationError) -> Dot {
        try write(map: map, key: key, strategy: .addWinsSet, default: .addWinsSet, registers: false) { _, _ in (.add, element, []) }
    }

    /// Removes `element` from the set: the adds seen here; an add concurrent with it wins.
    @discardableResult
    public func remove(map: String = "default", set key: String, element: EventValue) throws(ReplicationError) -> Dot {
        try write(map: map, key: key, strategy: .addWinsSet, default: .addWinsSet, registers: false) { _, _ in (.remove, element, []) }
    }

    /// Adds `amount` (negative to subtract) to the counter under `key`.
    @discardableResult
    public func increment(map: String = "default", counter key: String, by amount: Int64) throws(ReplicationError) -> Dot {
        guard amount.magnitude <= UInt64(ReplicatedOperation.maximumIncrement) else {
            throw .refused("an increment is at most ±2^53")
        }
        return try write(map: map, key: key, strategy: .pnCounter, default: .pnCounter, registers: false) { _, _ in (.increment, .int(amount), []) }
    }

    /// Marks `replica` as gone: collection stops waiting for it, and its later operations are
    /// refused everywhere (it must do a full resync).
    @discardableResult
    public func decommission(_ replica: String) throws(ReplicationError) -> Dot {
        guard ReplicaID.isValid(replica), replica != id else { throw .refused("'\(replica)' cannot be decommissioned by this replica") }
        return try append { state, next throws(ReplicationError) in
            guard state.members[replica] != nil else { throw .refused("\(replica) is not a member") }
            return [ReplicatedOperation(dot: next, deps: state.vector, kind: .decommission, map: "", key: replica, strategy: nil,
                                        hlc: .zero, time: Timestamp(nanoseconds: 0), node: log.nodeID)]
        }
    }

    private func write(map: String, key: String, strategy requested: Strategy?, default fallback: Strategy, registers: Bool,
                       _ body: (ReplicatedState, Strategy) throws(ReplicationError) -> (OperationKind, EventValue?, [Dot])) throws(ReplicationError) -> Dot {
        try append { state, next throws(ReplicationError) in
            let existing = state.entry(map: map, key: key)?.strategy
            var strategy = requested ?? existing ?? fallback
            if requested == nil, let existing, existing.isRegister != registers { strategy = fallback }
            let (kind, value, resolves) = try body(state, strategy)
            let op = ReplicatedOperation(dot: next, deps: state.vector, kind: kind, map: map, key: key, value: value, strategy: strategy,
                                         resolves: resolves, hlc: .zero, time: Timestamp(nanoseconds: 0), node: log.nodeID)
            try Self.wellFormed(op)
            try state.check(op)
            return [op]
        }
    }

    private static func wellFormed(_ op: ReplicatedOperation) throws(ReplicationError) {
        do { _ = try op.checked() } catch { throw .malformed(error) }
    }

    /// Appends local operations made by `make` from the current state and the next dot; a
    /// replica joins with its first operation. Retries when another process appended first.
    private func append(_ make: (ReplicatedState, Dot) throws(ReplicationError) -> [ReplicatedOperation]) throws(ReplicationError) -> Dot {
        for _ in 0..<8 {
            // The state copy must be gone before the append: a log that updates its state in
            // place would otherwise copy it whole.
            func prepare() throws(ReplicationError) -> [ReplicatedOperation] {
                var state = try log.state()
                if let member = state.members[id], member.decommissionedAfter != nil { throw .decommissioned(replica: id) }
                var ops: [ReplicatedOperation] = []
                if state.members[id] == nil {
                    let join = joinOperation(state)
                    try state.apply(join)
                    ops.append(join)
                }
                return ops + (try make(state, Dot(replica: id, counter: state.vector[id] + 1)))
            }
            let ops = try prepare()
            let first = ops[0].dot.counter
            do {
                try log.append(ops.map(\.localEvent), expecting: [ReplicatedOperation.stream(of: id): .exactly(first - 1)], resulting: nil)
                return ops[ops.count - 1].dot
            } catch .store(.conflict) {
                continue
            }
        }
        throw .refused("other writers kept appending to this replica's stream; try again")
    }

    private func joinOperation(_ state: ReplicatedState) -> ReplicatedOperation {
        ReplicatedOperation(dot: Dot(replica: id, counter: state.vector[id] + 1), deps: state.vector, kind: .join, map: "", key: id,
                            value: .string(log.nodeID), strategy: nil, hlc: .zero, time: Timestamp(nanoseconds: 0), node: log.nodeID)
    }

    /// Admits a replica that asks to sync and is not yet a member: this member records its
    /// join, so that every member that later counts this member's acknowledgements knows the
    /// newcomer too and waits for it before collecting (see `stability(of:)`). A replica that
    /// was never admitted and writes founds a group of its own.
    func admit(_ replica: String) throws(ReplicationError) {
        guard replica != id, ReplicaID.isValid(replica) else { return }
        let state = try log.state()
        guard state.members[replica] == nil else { return }
        _ = try append { state, next throws(ReplicationError) in
            [ReplicatedOperation(dot: next, deps: state.vector, kind: .join, map: "", key: replica, value: .string(replica),
                                 strategy: nil, hlc: .zero, time: Timestamp(nanoseconds: 0), node: log.nodeID)]
        }
    }

    // MARK: Reading

    /// The current values of `key` (one, or several concurrent ones); empty when absent.
    public func values(map: String = "default", key: String) throws(ReplicationError) -> [EventValue] {
        guard let entry = try log.state().entry(map: map, key: key), !entry.isTombstone else { return [] }
        return entry.values
    }

    // MARK: Garbage collection

    /// What a collection did.
    public struct Collected: Sendable, Equatable {
        public var stable: VersionVector
        public var tombstones: Int
        public var dots: Int
    }

    /// Collects what is causally stable, recording `crdt.gc`; nil when nothing is new.
    @discardableResult
    public func collectGarbage() throws(ReplicationError) -> Collected? {
        let state = try log.state()
        let stability = state.stability(of: id)
        guard !state.collected.includes(stability.frontier) else { return nil }
        try log.append([NewEvent(type: ReplicationEvent.gc, stream: "crdt/gc", data: [
            "stable_vv": ReplicatedOperation.document(stability.frontier),
            "tombstones_removed": .int(Int64(stability.tombstones)), "ops_compacted": .int(Int64(stability.dots)),
        ])], expecting: [:], resulting: nil)
        return Collected(stable: stability.frontier, tombstones: stability.tombstones, dots: stability.dots)
    }
}

extension ReplicatedOperation {
    /// A local operation's event: the store assigns its clock, time and node.
    var localEvent: NewEvent { NewEvent(type: eventType, stream: stream, data: payload, id: eventID) }
}
