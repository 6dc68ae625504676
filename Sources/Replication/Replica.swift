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
    public private(set) var waiting: [ReplicatedOperation] = []
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

    // MARK: Sync

    /// What this replica has: the request a peer answers.
    public func syncRequest() throws(ReplicationError) -> SyncRequest {
        SyncRequest(replica: id, vector: try log.state().vector)
    }

    /// Answers a peer's request with one page of the operations it lacks, and records what it
    /// acknowledged (when that is news).
    /// `acknowledging: false` for the later pages of one exchange, whose requests carry what
    /// the requester will have rather than what it has.
    public func respond(to request: SyncRequest, limit: Int = SyncLimits.pageOperations, acknowledging: Bool = true) throws(ReplicationError) -> SyncResponse {
        try admit(request.replica)
        let state = try log.state()
        let page = max(1, min(limit, SyncLimits.maximumOperations))
        let operations = try log.operations(lacking: request.vector, limit: page)
        let sent = request.vector.merging(VersionVector(Dictionary(operations.map { ($0.dot.replica, $0.dot.counter) }, uniquingKeysWith: max)))
        var acknowledged = state.acknowledged
        acknowledged[id] = state.vector
        if acknowledging, request.replica != id, !(state.acknowledged[request.replica] ?? VersionVector()).includes(request.vector),
           state.members[request.replica]?.decommissionedAfter == nil {
            try log.append([Self.synced(peer: request.replica, sent: operations.count, received: 0, vector: request.vector, acks: [:])],
                           expecting: [:], resulting: nil)
        }
        return SyncResponse(replica: id, vector: state.vector, acknowledged: acknowledged, operations: operations,
                            more: !sent.includes(state.vector))
    }

    /// What one `receive` did.
    public struct Received: Sendable, Equatable {
        public var delivered = 0
        public var duplicates = 0
        /// Still waiting for dependencies after this message.
        public var waiting = 0
        public var conflicts = 0
        /// The sender had more for this replica than the message held: ask again.
        public var more = false
    }

    /// Applies a peer's response: checks all of it first (a typed error leaves the log as it
    /// was), delivers what is ready in causal order, keeps the rest waiting, and records the
    /// peer's acknowledgement and any vector_clock conflicts, all in one append.
    @discardableResult
    public func receive(_ message: SyncResponse) throws(ReplicationError) -> Received {
        try deliver(try message.validated())
    }

    /// `receive` for a response in the binary encoding (`SyncCoding`), which the decoder
    /// checks as it reads.
    @discardableResult
    public func receive(encoded bytes: [UInt8]) throws(ReplicationError) -> Received {
        try deliver(try SyncCoding.decodeResponse(bytes))
    }

    /// Delivers a response that passed `validated()`.
    private func deliver(_ response: SyncResponse) throws(ReplicationError) -> Received {
        var state = try log.state()
        let prepared = try prepare(response, on: &state)
        if !prepared.events.isEmpty {
            let resulting = state
            state = ReplicatedState()  // one reference only, so the log can take it without a copy
            try log.append(prepared.events, expecting: prepared.expecting, resulting: resulting)
        }
        waiting = prepared.pending
        return prepared.report
    }

    /// Pulls everything a peer has for this replica, page after page, each page's commit
    /// overlapping the preparation of the next (what `sync pull` does). `exchange` carries a
    /// request to the peer and returns its response in the binary encoding. Each page is
    /// checked whole before it is applied; a refused page stops the pull, the pages before it
    /// stay applied.
    @discardableResult
    public func pull(through exchange: (SyncRequest) throws -> [UInt8]) throws(ReplicationError) -> Received {
        var state = try log.state()
        let start = log.statePosition
        var position = start
        var total = Received()
        var inFlight: PendingAppend?
        // The pages appended so far went in right after one another (no other writer between).
        var contiguous = true
        func settle() throws(ReplicationError) {
            guard let pending = inFlight else { return }
            inFlight = nil
            let result = try pending.wait()
            contiguous = contiguous && result.written == pending.count && result.positions.first == position + 1
            position = result.positions.last ?? position
        }
        while true {
            let bytes: [UInt8]
            do { bytes = try exchange(SyncRequest(replica: id, vector: state.vector)) } catch let error as ReplicationError {
                try settle()
                throw error
            } catch {
                try settle()
                throw .badMessage("the exchange failed: \(error)")
            }
            let prepared: Prepared
            do { prepared = try prepare(try SyncCoding.decodeResponse(bytes), on: &state) } catch {
                try settle()
                throw error
            }
            try settle()
            if !prepared.events.isEmpty { inFlight = log.startAppend(prepared.events, expecting: prepared.expecting) }
            waiting = prepared.pending
            total.delivered += prepared.report.delivered
            total.duplicates += prepared.report.duplicates
            total.conflicts += prepared.report.conflicts
            total.waiting = prepared.report.waiting
            guard prepared.report.more, prepared.report.delivered > 0 else { break }
        }
        try settle()
        if contiguous { log.adopt(state, at: position, ifAt: start) }
        return total
    }

    /// A response made ready against `state`: the events to append, in one batch.
    private struct Prepared {
        var events: [NewEvent]
        var expecting: [String: ExpectedVersion]
        var report: Received
        /// What still waits for dependencies.
        var pending: [ReplicatedOperation]
    }

    /// Checks `response` against `state` and applies it there: what is ready in causal order,
    /// the rest kept waiting, the peer's acknowledgement and any vector_clock conflicts
    /// recorded. Throws, with `state` unusable, when anything is refused.
    private func prepare(_ response: SyncResponse, on state: inout ReplicatedState) throws(ReplicationError) -> Prepared {
        let limit = log.clock.now().microseconds.addingSaturated(log.maximumClockAheadMicros)
        for op in response.operations where op.hlc.wall > limit {
            throw .badMessage("operation \(op.dot) has a clock \(op.hlc) more than \(log.maximumClockAheadMicros) µs ahead of this node's")
        }
        if let member = state.members[response.replica], member.decommissionedAfter != nil {
            throw .decommissioned(replica: response.replica)
        }
        var pending = waiting + response.operations
        var delivered: [ReplicatedOperation] = []
        var records: [NewEvent] = []
        var report = Received()
        var progress = true
        while progress {
            progress = false
            var still: [ReplicatedOperation] = []
            for op in pending {
                switch state.readiness(of: op) {
                case .duplicate: report.duplicates += 1
                case .waiting: still.append(op)
                case .ready:
                    let applied = try state.apply(op)
                    delivered.append(op)
                    progress = true
                    if !applied.losingValues.isEmpty {
                        report.conflicts += 1
                        records.append(NewEvent(type: ReplicationEvent.conflict, stream: "crdt/\(op.map)", data: [
                            "crdt": .string(op.map), "key": .string(op.key), "values": .array(applied.losingValues),
                            "dots": .array(applied.losingDots.map(ReplicatedOperation.document)), "winner": ReplicatedOperation.document(op.dot),
                        ]))
                    }
                }
            }
            pending = still
        }
        guard pending.count <= bufferLimit else { throw .bufferFull(limit: bufferLimit) }
        report.delivered = delivered.count
        report.waiting = pending.count
        report.more = response.more
        // The records change the state as the projection will read them: conflicts counted,
        // the peer's acknowledgements taken.
        state.conflictsRecorded.addSaturated(UInt64(report.conflicts))
        if response.replica != id, !(state.acknowledged[response.replica] ?? VersionVector()).includes(response.vector) || !delivered.isEmpty {
            let others = response.acknowledged.filter { $0.key != response.replica }
            records.append(Self.synced(peer: response.replica, sent: 0, received: delivered.count, vector: response.vector, acks: others))
            state.recordSynced(peer: response.replica, vector: response.vector, acks: others)
        }
        var expecting: [String: ExpectedVersion] = [:]
        for op in delivered where expecting[op.stream] == nil { expecting[op.stream] = .exactly(op.dot.counter - 1) }
        return Prepared(events: delivered.map(\.newEvent) + records, expecting: expecting, report: report, pending: pending)
    }

    static func synced(peer: String, sent: Int, received: Int, vector: VersionVector, acks: [String: VersionVector]) -> NewEvent {
        var data: [String: EventValue] = ["peer": .string(peer), "sent": .int(Int64(sent)), "received": .int(Int64(received)),
                                          "peer_vv": ReplicatedOperation.document(vector)]
        let others = acks.filter { $0.key != peer }
        if !others.isEmpty { data["peer_acks"] = .map(others.mapValues(ReplicatedOperation.document)) }
        return NewEvent(type: ReplicationEvent.synced, stream: "peer/\(peer)", data: .map(data))
    }

    /// Forgets operations waiting for dependencies (before a full resync).
    public func dropWaiting() { waiting = [] }

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
