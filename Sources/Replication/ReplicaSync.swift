import EventStore

/// Sync: answering a peer's request, receiving its response, pulling page by page.
extension Replica {
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
}
