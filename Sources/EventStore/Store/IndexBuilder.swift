#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLMDB

/// Maintains the secondary indexes (`streams`, `types`, `tags`, `time`) like a projection: it
/// reads the log after its checkpoint and writes the entries of up to `limit` events in one
/// transaction, in key order per index, together with the new checkpoint. Inserting sorted
/// runs touches each index page about once per batch, where per-event inserts in the append
/// transaction rewrite about a thousand pages per index per commit.
///
/// A batch is made in two halves so that the expensive one does not hold the write lock:
/// `prepare` decodes and groups in a read transaction (on the indexer's own core, while the
/// writer goes on appending), `apply` inserts the prepared runs in a short write transaction.
enum IndexBuilder {
    static let checkpointKey = Key.text("index")

    static func checkpoint(_ txn: Transaction) throws -> UInt64 {
        guard let value = try txn.get(txn.dbs.checkpoints, checkpointKey) else { return 0 }
        guard value.count == 8 else { throw StoreError.corrupt(seq: 0, "malformed index checkpoint") }
        return try Key.readUInt64(value)
    }

    /// The keys an event is listed under in `tags`: its node, its correlation, each tag.
    static func tagKeys(node: String, correlation: String?, tags: [String: String]) -> [TagIndexKey] {
        var keys: [TagIndexKey] = [.node(node)]
        if let correlation { keys.append(.correlation(correlation)) }
        for (k, v) in tags { keys.append(.tag(k, v)) }
        return keys
    }

    /// The first byte of a `tags` index key: what the rest names.
    enum TagKind: UInt8 {
        case node = 0x6E         // "n"
        case correlation = 0x63  // "c"
        case tag = 0x74          // "t", then `key=value`
    }

    static let tagSeparator = UInt8(ascii: "=")

    static func nodeKey(_ node: String) -> [UInt8] { [TagKind.node.rawValue] + Array(node.utf8) }
    static func correlationKey(_ c: String) -> [UInt8] { [TagKind.correlation.rawValue] + Array(c.utf8) }
    static func tagKey(_ key: String, _ value: String) -> [UInt8] {
        [TagKind.tag.rawValue] + Array(key.utf8) + [tagSeparator] + Array(value.utf8)
    }

    /// Indexes up to `limit` events after the checkpoint. Returns how many, the lag left and
    /// the checkpoint reached.
    static func step(env: Environment, limit: Int) throws -> (indexed: Int, lag: Int, checkpoint: UInt64) {
        while true {
            let prepared = try env.read { txn -> (batch: PreparedIndexBatch?, checkpoint: UInt64) in
                let batch = try prepare(txn, limit: limit)
                return (batch, try batch?.from ?? checkpoint(txn))
            }
            guard let batch = prepared.batch else { return (0, 0, prepared.checkpoint) }
            if let lag = try env.write({ txn in try apply(batch, in: txn) }) { return (batch.count, lag, batch.to) }
            // Someone else (another process's indexer, a reindex) moved the checkpoint meanwhile.
        }
    }

    /// Brings the indexes fully up to date; returns how many events were indexed.
    static func catchUp(env: Environment, batch: Int) throws -> Int {
        var total = 0
        while true {
            let step = try self.step(env: env, limit: batch)
            total += step.indexed
            if step.lag == 0 { return total }
        }
    }

    /// Reads and groups the entries of up to `limit` events after the checkpoint; nil when the
    /// indexes are current.
    static func prepare(_ txn: Transaction, limit: Int) throws -> PreparedIndexBatch? {
        let from = try checkpoint(txn)
        let head = try Head.load(txn).seq
        guard head > from else { return nil }
        var batch = PreparedIndexBatch(from: from, to: min(head, from + UInt64(max(1, limit))))
        let cursor = try txn.cursor(txn.dbs.events)
        defer { cursor.close() }
        var entry = try cursor.get(MDB_SET_RANGE, key: Key.seq(from + 1))
        while let current = entry {
            let seq = try Key.readUInt64(current.key)
            if seq > batch.to { break }
            try batch.add(Record.view(current.value, expectedSeq: seq))
            entry = try cursor.get(MDB_NEXT)
        }
        return batch
    }

    /// Inserts a prepared batch and moves the checkpoint to its end. Returns the lag left, or
    /// nil (and writes nothing) when the checkpoint is no longer where the batch starts.
    static func apply(_ batch: PreparedIndexBatch, in txn: Transaction) throws -> Int? {
        guard try checkpoint(txn) == batch.from else { return nil }
        try batch.streams.insert(txn, txn.dbs.streams)
        try batch.types.insert(txn, txn.dbs.types)
        try batch.tags.insert(txn, txn.dbs.tags)
        try batch.insertTimes(txn)
        try batch.updateHeads(txn)
        try txn.put(txn.dbs.checkpoints, checkpointKey, Key.seq(batch.to))
        let head = try Head.load(txn).seq
        return Int(head - min(head, batch.to))
    }

    /// memcmp order with the shorter of two equal prefixes first: LMDB's default key order.
    @inline(__always)
    static func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
        let common = min(a.count, b.count)
        let order = a.withUnsafeBytes { x in
            b.withUnsafeBytes { y -> Int32 in
                guard common > 0, let p = x.baseAddress, let q = y.baseAddress else { return 0 }
                return memcmp(p, q, common)
            }
        }
        if order != 0 { return Int(order) }
        return a.count - b.count
    }
}

/// A key of the `tags` index: the event's node, its correlation, or one of its tags.
enum TagIndexKey: Hashable {
    case node(String)
    case correlation(String)
    case tag(String, String)

    var bytes: [UInt8] {
        switch self {
        case .node(let node): return IndexBuilder.nodeKey(node)
        case .correlation(let correlation): return IndexBuilder.correlationKey(correlation)
        case .tag(let key, let value): return IndexBuilder.tagKey(key, value)
        }
    }
}

extension Cursor {
    /// Batches index events in seq order, so an entry nearly always sorts after everything
    /// already stored: `flag` (MDB_APPENDDUP or MDB_APPEND) then skips LMDB's search. When the
    /// guess is wrong (an event with an older time, a re-run after a crash) LMDB refuses the
    /// append and the entry is inserted normally, so nothing is lost.
    func putAppending(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flag: Int32) throws {
        if try !put(key, value, flags: flag) { try put(key, value) }
    }
}
