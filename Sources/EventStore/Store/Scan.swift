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
                    let cursor = try txn.cursor(txn.dbs.events)
                    defer { cursor.close() }
                    var entry = try Key.seq(next).withUnsafeBytes { try cursor.get(MDB_SET_KEY, key: $0) }
                    for _ in 0..<Self.scanEventsPerTransaction {
                        guard let (key, record) = entry, Key.readUInt64(key) == next else {
                            throw StoreError.corrupt(seq: next, "the log has no record at this position")
                        }
                        let event = try Record.decode(record, expectedSeq: next, fields: fields, interner: interner)
                        delivered = next
                        if try !body(event) || next == last {
                            done = true
                            return
                        }
                        next = forward ? next + 1 : next - 1
                        entry = try cursor.get(forward ? MDB_NEXT : MDB_PREV)
                    }
                }
            }
            return delivered
        } }
    }
}
