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
        try storeCall {
            let start = max(from, 1)
            let end = try through ?? head().seq
            var next = start
            var stopped = false
            let interner = StringInterner()
            while next <= end && !stopped {
                try env.read { txn in
                    let cursor = try txn.cursor(txn.dbs.events)
                    defer { cursor.close() }
                    var entry = try Key.seq(next).withUnsafeBytes { try cursor.get(MDB_SET_RANGE, key: $0) }
                    var delivered = 0
                    while let (key, record) = entry, delivered < Self.scanEventsPerTransaction {
                        let seq = Key.readUInt64(key)
                        guard seq <= end else { next = end + 1; return }
                        guard seq == next else {
                            throw StoreError.corrupt(seq: next, "the log has no record at this position")
                        }
                        let event = try Record.decode(record, expectedSeq: seq, fields: fields, interner: interner)
                        next = seq + 1
                        delivered += 1
                        guard try body(event) else { stopped = true; return }
                        entry = try cursor.get(MDB_NEXT)
                    }
                    if entry == nil && next <= end {
                        throw StoreError.corrupt(seq: next, "the log ends before the expected head")
                    }
                }
            }
            return next - 1
        }
    }

    /// Calls `body` with events from `from` (default: the head) down to seq 1, newest first,
    /// until it returns false. Returns the seq of the last event delivered (0 when none was).
    @discardableResult
    public func scanBackward(from: UInt64? = nil, fields: EventFields = .all,
                             _ body: (Event) throws -> Bool) throws(StoreError) -> UInt64 {
        try storeCall {
            var next = try from ?? head().seq
            var last: UInt64 = 0
            var stopped = false
            while next >= 1 && !stopped {
                try env.read { txn in
                    let cursor = try txn.cursor(txn.dbs.events)
                    defer { cursor.close() }
                    var entry = try Key.seq(next).withUnsafeBytes { try cursor.get(MDB_SET_KEY, key: $0) }
                    var delivered = 0
                    while let (key, record) = entry, delivered < Self.scanEventsPerTransaction {
                        let seq = Key.readUInt64(key)
                        guard seq == next else { throw StoreError.corrupt(seq: next, "the log has no record at this position") }
                        let event = try Record.decode(record, expectedSeq: seq, fields: fields)
                        last = seq
                        next = seq - 1
                        delivered += 1
                        guard try body(event) else { stopped = true; return }
                        guard next >= 1 else { return }
                        entry = try cursor.get(MDB_PREV)
                    }
                    if entry == nil && next >= 1 {
                        throw StoreError.corrupt(seq: next, "the log has no record at this position")
                    }
                }
            }
            return last
        }
    }
}
