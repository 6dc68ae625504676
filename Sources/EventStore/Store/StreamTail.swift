/// The writer's view of stream heads: since store format 4 the `heads` database is kept by
/// the indexer, behind the index checkpoint, like the secondary indexes, so that an append
/// transaction writes no page of it. Measured: those writes were a fifth of a batched append
/// and a quarter of a 64-appender group commit, whose small commits each rewrote the heads
/// pages of the streams they touched (2,000 streams sit on about 20 leaf pages).
///
/// The heads of streams appended to after the checkpoint live here, in memory, folded from the
/// log itself: at the start of each write transaction the tail takes in every record it has not
/// seen (appended by this writer, or by another process), so it is exact in that transaction
/// whoever wrote before. A stream's head is then the tail's entry, else the `heads` database's.
/// Entries the indexer has caught up with are dropped now and then.
final class StreamTail {
    typealias StreamHead = (version: UInt64, lastSeq: UInt64)

    private var heads: [String: StreamHead] = [:]
    /// The last seq folded in; nil until the first transaction.
    private var known: UInt64?
    /// Drop indexed entries when the tail holds more than this many streams.
    private let pruneAbove: Int

    init(pruneAbove: Int = 50_000) { self.pruneAbove = pruneAbove }

    /// Folds in the records after those already seen, up to `head` (everything after the
    /// index checkpoint the first time).
    func catchUp(_ txn: Transaction, head: UInt64) throws {
        let from: UInt64
        if let known { from = known } else { from = min(head, try IndexBuilder.checkpoint(txn)) }
        guard head > from else {
            known = head
            return
        }
        _ = try txn.walkRecords(from: from + 1, to: head) { seq, record in
            // A record that cannot be read names no stream: it is passed over, so that one
            // damaged record (which `verify` reports) does not stop every append after it.
            if let view = try? Record.view(record, expectedSeq: seq) { heads[view.stream.string] = (view.version, seq) }
            return true
        }
        // Only now: a walk that failed (a gap in the log, an I/O error) is retried from the
        // same place by the next transaction, instead of leaving its records out for good.
        known = head
        if heads.count > pruneAbove {
            let checkpoint = try IndexBuilder.checkpoint(txn)
            heads = heads.filter { $0.value.lastSeq > checkpoint }
        }
    }

    /// The head of `stream` as this transaction sees it: the tail's, else the stored one.
    func head(of stream: String, in txn: Transaction) throws -> StreamHead {
        if let head = heads[stream] { return head }
        return try Self.stored(stream, in: txn)
    }

    /// The entry of the `heads` database (complete up to the index checkpoint).
    static func stored(_ stream: String, in txn: Transaction) throws -> StreamHead {
        try stored(key: Key.text(stream), in: txn)
    }

    static func stored(key: [UInt8], in txn: Transaction) throws -> StreamHead {
        guard let value = try txn.get(txn.dbs.heads, key), value.count == 16 else { return (0, 0) }
        return (try Key.readUInt64(value), try Key.readUInt64(value, at: 8))
    }

    /// Takes in what a committed transaction wrote.
    func committed(_ written: [String: StreamHead], head: UInt64) {
        for (stream, streamHead) in written { heads[stream] = streamHead }
        known = head
    }
}
