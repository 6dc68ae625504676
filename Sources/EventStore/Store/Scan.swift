import CLMDB

extension EventStore {
    /// Events scanned per read transaction: long enough to amortise beginning one, short enough
    /// that a long replay does not pin old pages (which would make the file grow under a writer).
    static let scanEventsPerTransaction = 16_384

    /// Calls `body` with every event from `from` through `through` (default: the head when the
    /// scan starts), in log order, with no intermediate buffers. This is the replay path:
    /// projections rebuild through it. `fields` names the optional parts to decode (see
    /// `EventFields`); skipping what a reader does not need is the biggest saving on this path.
    /// `body` returns false to stop early.
    ///
    /// Returns the seq of the last event delivered (`from - 1` when none was).
    @discardableResult
    public func scan(from: UInt64 = 1, through: UInt64? = nil, fields: EventFields = .all,
                     _ body: (Event) throws -> Bool) throws(StoreError) -> UInt64 {
        let start = max(from, 1)
        let end: UInt64
        if let through { end = through } else { end = try head().seq }
        guard start <= end else { return start - 1 }
        return try walk(from: start, to: end, forward: true, fields: fields, body) ?? start - 1
    }

    /// Calls `body` with events from `from` (default: the head) down to seq 1, newest first,
    /// until it returns false. Returns the seq of the last event delivered (0 when none was).
    @discardableResult
    public func scanBackward(from: UInt64? = nil, fields: EventFields = .all,
                             _ body: (Event) throws -> Bool) throws(StoreError) -> UInt64 {
        let first: UInt64
        if let from { first = from } else { first = try head().seq }
        guard first >= 1 else { return 0 }
        return try walk(from: first, to: 1, forward: false, fields: fields, body) ?? 0
    }

    /// Visits `first` through `last` (either direction) in chunks of short read transactions.
    /// Positions are dense, so a missing one is corruption. Returns the last seq delivered.
    private func walk(from first: UInt64, to last: UInt64, forward: Bool, fields: EventFields,
                      _ body: (Event) throws -> Bool) throws(StoreError) -> UInt64? {
        try storeCall { try interners.withInterner { interner in
            var next = first
            var delivered: UInt64?
            var done = false
            while !done {
                try env.read { txn in
                    let walk = try txn.walkRecords(from: next, to: last, limit: Self.scanEventsPerTransaction) { seq, record in
                        try body(Record.decode(record, expectedSeq: seq, fields: fields, interner: interner))
                    }
                    delivered = walk.last
                    done = walk.stopped || walk.last == last
                    next = forward ? walk.last + 1 : walk.last - 1
                }
            }
            return delivered
        } }
    }
}

extension EventStore {
    /// Calls `body` with runs of up to `runLength` consecutive records from `from` through
    /// `through` (default: the head when the scan starts), read in place: no `Event` is built,
    /// no string copied. For replays that need only the envelope, this is several times
    /// cheaper than `scan`. A run, and every view in it, is valid only during its call.
    /// `body` returns false to stop early.
    ///
    /// Returns the seq of the last record delivered (`from - 1` when none was).
    @discardableResult
    public func scanRecords(from: UInt64 = 1, through: UInt64? = nil, runLength: Int = 1_024,
                            _ body: (RecordRun) throws -> Bool) throws(StoreError) -> UInt64 {
        let first = max(from, 1)
        let last: UInt64
        if let through { last = through } else { last = try head().seq }
        guard first <= last else { return first - 1 }
        let capacity = max(1, runLength)
        // RecordView holds only numbers and pointers: slots are overwritten, never deinitialised.
        let views = UnsafeMutablePointer<RecordView>.allocate(capacity: capacity)
        defer { views.deallocate() }
        return try storeCall {
            var next = first
            var delivered = first - 1
            var done = false
            while !done {
                try env.read { txn in
                    // Views point into this transaction's pages: every run is handed over
                    // before the transaction ends.
                    var filled = 0
                    func handOver() throws -> Bool {
                        delivered = views[filled - 1].seq
                        let keepGoing = try body(RecordRun(base: views, bounds: 0..<filled))
                        filled = 0
                        return keepGoing
                    }
                    let walk = try txn.walkRecords(from: next, to: last, limit: Self.scanEventsPerTransaction) { seq, record in
                        try Record.initializeView(at: views + filled, record, expectedSeq: seq)
                        filled += 1
                        if filled == capacity { return try handOver() }
                        return true
                    }
                    var stopped = walk.stopped
                    if !stopped, filled > 0 { stopped = try !handOver() }
                    done = stopped || walk.last == last
                    next = walk.last + 1
                }
            }
            return delivered
        }
    }
}
