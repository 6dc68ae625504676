import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A summary of a store, for `recoveryctl stats` and metrics.
public struct StoreStats: Sendable, Hashable {
    public var count: UInt64 = 0
    public var firstSeq: UInt64?
    public var lastSeq: UInt64?
    public var firstTime: Timestamp?
    public var lastTime: Timestamp?
    public var perType: [String: Int] = [:]
    public var perNode: [String: Int] = [:]
    public var streams = 0
    public var bytesOnDisk: UInt64 = 0
    public var mapSize: Int = 0
    public var mapUsed: Int = 0
    public var indexCheckpoint: UInt64 = 0
    public var nodeID = ""
    public var replicaID = ""
}

extension EventStore {
    /// Counts per type and node come from the indexes plus a scan of the unindexed tail.
    public func stats() throws(StoreError) -> StoreStats {
        var stats = StoreStats()
        stats.nodeID = nodeID
        stats.replicaID = replicaID
        try storeCall {
            try env.read { txn in
                let head = try Head.load(txn).seq
                let checkpoint = min(head, try IndexBuilder.checkpoint(txn))
                stats.indexCheckpoint = checkpoint
                stats.count = UInt64(try txn.entryCount(txn.dbs.events))
                stats.streams = try txn.entryCount(txn.dbs.heads)
                let cursor = try txn.cursor(txn.dbs.events)
                defer { cursor.close() }
                if let first = try cursor.get(MDB_FIRST) {
                    let seq = try Key.readUInt64(first.key)
                    stats.firstSeq = seq
                    stats.firstTime = try Record.decode(first.value, expectedSeq: seq, fields: .envelope).time
                }
                if let last = try cursor.get(MDB_LAST) {
                    let seq = try Key.readUInt64(last.key)
                    stats.lastSeq = seq
                    stats.lastTime = try Record.decode(last.value, expectedSeq: seq, fields: .envelope).time
                }
                stats.perType = try countKeys(txn, txn.dbs.types, prefix: [])
                stats.perNode = try countKeys(txn, txn.dbs.tags, prefix: [UInt8(ascii: "n")])
                var entry = try cursor.get(MDB_SET_RANGE, key: Key.seq(checkpoint + 1))
                while let current = entry {
                    let seq = try Key.readUInt64(current.key)
                    let event = try Record.decode(current.value, expectedSeq: seq, fields: .envelope)
                    stats.perType[event.type, default: 0] += 1
                    stats.perNode[event.node, default: 0] += 1
                    // `heads` holds the streams up to the checkpoint (a format 3 store's, all
                    // of them); a stream whose first event lies after it is counted here.
                    if event.version == 1, try StreamTail.stored(event.stream, in: txn).version == 0 { stats.streams += 1 }
                    entry = try cursor.get(MDB_NEXT)
                }
            }
        }
        var info = MDB_envinfo()
        mdb_env_info(env.handle, &info)
        stats.mapSize = info.me_mapsize
        stats.mapUsed = (info.me_last_pgno + 1) * env.pageSize
        for file in ["data.mdb", "lock.mdb"] {
            var st = stat()
            if stat(path + "/" + file, &st) == 0 { stats.bytesOnDisk += UInt64(st.st_blocks) * 512 }
        }
        return stats
    }

    private func countKeys(_ txn: Transaction, _ dbi: MDB_dbi, prefix: [UInt8]) throws -> [String: Int] {
        var counts: [String: Int] = [:]
        let cursor = try txn.cursor(dbi)
        defer { cursor.close() }
        var entry = prefix.isEmpty ? try cursor.get(MDB_FIRST) : try cursor.get(MDB_SET_RANGE, key: prefix)
        while let current = entry, current.key.starts(with: prefix) {
            let name = String(decoding: current.key.dropFirst(prefix.count), as: UTF8.self)
            counts[name] = try cursor.duplicateCount()
            entry = try cursor.get(MDB_NEXT_NODUP)
        }
        return counts
    }
}
