import CLMDB

extension Transaction {
    /// How a walk over the log ended: the last seq visited, and whether `body` asked to stop.
    struct RecordWalk {
        var last: UInt64
        var stopped: Bool
    }

    /// Visits the stored records from `first` towards `last` (either direction), at most
    /// `limit` of them, in this transaction. Positions are dense from the archive anchor on, so a
    /// missing one is corruption (or archived, said so). `body` gets each seq and record, valid in this transaction only, and returns
    /// false to stop. The one cursor walk behind scans, parallel chunks and the writer's tail.
    func walkRecords(from first: UInt64, to last: UInt64, limit: Int = .max,
                     _ body: (UInt64, UnsafeRawBufferPointer) throws -> Bool) throws -> RecordWalk {
        let forward = first <= last
        let cursor = try self.cursor(dbs.events)
        defer { cursor.close() }
        var entry = try Key.seq(first).withUnsafeBytes { try cursor.get(MDB_SET_KEY, key: $0) }
        var seq = first
        var visited = 0
        while true {
            guard let (key, record) = entry, try Key.readUInt64(key) == seq else {
                if let archived = try ArchiveMarks.error(reading: seq, self) { throw archived }
                throw StoreError.corrupt(seq: seq, "the log has no record at this position")
            }
            visited += 1
            if try !body(seq, record) { return RecordWalk(last: seq, stopped: true) }
            if seq == last || visited == limit { return RecordWalk(last: seq, stopped: false) }
            seq = forward ? seq + 1 : seq - 1
            entry = try cursor.get(forward ? MDB_NEXT : MDB_PREV)
        }
    }
}
