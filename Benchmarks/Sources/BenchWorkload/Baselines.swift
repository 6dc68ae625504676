import BenchLMDB
import BenchSQLite
import Foundation

/// Raw LMDB through the C API: the physical limit, and the naive indexed design.
public final class RawLMDB {
    var env: OpaquePointer?
    var events: MDB_dbi = 0
    var indexes: [MDB_dbi] = []

    public init(path: String, indexed: Bool) {
        mdb_env_create(&env)
        mdb_env_set_maxdbs(env, 8)
        mdb_env_set_mapsize(env, 8 << 30)
        mdb_env_open(env, path, UInt32(MDB_NOTLS), 0o644)
        var txn: OpaquePointer?
        mdb_txn_begin(env, nil, 0, &txn)
        mdb_dbi_open(txn, "events", UInt32(MDB_CREATE), &events)
        if indexed {
            for name in ["streams", "types", "nodes", "time"] {
                var dbi: MDB_dbi = 0
                mdb_dbi_open(txn, name, UInt32(MDB_CREATE), &dbi)
                indexes.append(dbi)
            }
        }
        mdb_txn_commit(txn)
    }

    /// Opens an existing environment's named database read-only (to scan EventStore's records).
    public init(existing path: String, database: String) {
        mdb_env_create(&env)
        mdb_env_set_maxdbs(env, 16)
        mdb_env_set_mapsize(env, 8 << 30)
        mdb_env_open(env, path, UInt32(MDB_NOTLS | MDB_RDONLY), 0o644)
        var txn: OpaquePointer?
        mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        mdb_dbi_open(txn, database, 0, &events)
        mdb_txn_commit(txn)
    }

    deinit { mdb_env_close(env) }

    static func put(_ txn: OpaquePointer?, _ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8], _ flags: Int32 = 0) {
        key.withUnsafeBytes { k in
            value.withUnsafeBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                _ = mdb_put(txn, dbi, &kv, &vv, UInt32(flags))
            }
        }
    }

    /// Appends records in durable transactions of `batch`; with indexes, inserts four index entries
    /// per record in the same transaction.
    public func append(_ records: [[UInt8]], keys: [IndexKeys], batch: Int, firstSeq: UInt64 = 1) {
        var seq = firstSeq
        var i = 0
        while i < records.count {
            var txn: OpaquePointer?
            mdb_txn_begin(env, nil, 0, &txn)
            for k in i..<min(records.count, i + batch) {
                let key = be(seq)
                RawLMDB.put(txn, events, key, records[k], MDB_APPEND)
                if !indexes.isEmpty {
                    RawLMDB.put(txn, indexes[0], keys[k].stream + be(keys[k].version), key)
                    RawLMDB.put(txn, indexes[1], keys[k].type + key, [])
                    RawLMDB.put(txn, indexes[2], keys[k].node + key, [])
                    RawLMDB.put(txn, indexes[3], be(keys[k].time) + key, [])
                }
                seq += 1
            }
            mdb_txn_commit(txn)
            i += batch
        }
    }

    /// A cursor scan touching every value; returns the records seen.
    public func scan() -> Int {
        var txn: OpaquePointer?
        mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        var cursor: OpaquePointer?
        mdb_cursor_open(txn, events, &cursor)
        var k = MDB_val(), v = MDB_val()
        var n = 0, bytes = 0
        var op = MDB_FIRST
        while mdb_cursor_get(cursor, &k, &v, op) == 0 {
            n += 1
            bytes &+= Int(v.mv_data.load(as: UInt8.self))
            op = MDB_NEXT
        }
        mdb_cursor_close(cursor)
        mdb_txn_abort(txn)
        return n + (bytes & 0)
    }

    public func records() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var txn: OpaquePointer?
        mdb_txn_begin(env, nil, UInt32(MDB_RDONLY), &txn)
        var cursor: OpaquePointer?
        mdb_cursor_open(txn, events, &cursor)
        var k = MDB_val(), v = MDB_val()
        var op = MDB_FIRST
        while mdb_cursor_get(cursor, &k, &v, op) == 0 {
            out.append(Array(UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)))
            op = MDB_NEXT
        }
        mdb_cursor_close(cursor)
        mdb_txn_abort(txn)
        return out
    }
}

public struct IndexKeys {
    var stream: [UInt8]
    var version: UInt64
    var type: [UInt8]
    var node: [UInt8]
    var time: UInt64

    public init(stream: [UInt8], version: UInt64, type: [UInt8], node: [UInt8], time: UInt64) {
        self.stream = stream
        self.version = version
        self.type = type
        self.node = node
        self.time = time
    }
}

func be(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

/// SQLite in WAL mode with synchronous=FULL and the same four indexes.
public final class SQLiteBaseline {
    var db: OpaquePointer?
    var insert: OpaquePointer?

    public init(path: String) {
        sqlite3_open(path + "/events.sqlite", &db)
        exec("PRAGMA journal_mode=WAL")
        exec("PRAGMA synchronous=FULL")
        exec("CREATE TABLE events(seq INTEGER PRIMARY KEY, stream TEXT, version INTEGER, type TEXT, node TEXT, time INTEGER, record BLOB)")
        exec("CREATE INDEX by_stream ON events(stream, version)")
        exec("CREATE INDEX by_type ON events(type, seq)")
        exec("CREATE INDEX by_node ON events(node, seq)")
        exec("CREATE INDEX by_time ON events(time, seq)")
        sqlite3_prepare_v2(db, "INSERT INTO events VALUES(?,?,?,?,?,?,?)", -1, &insert, nil)
    }

    deinit {
        sqlite3_finalize(insert)
        sqlite3_close(db)
    }

    public func exec(_ sql: String) { sqlite3_exec(db, sql, nil, nil, nil) }

    public func append(_ records: [[UInt8]], keys: [IndexKeys], streams: [String], types: [String], nodes: [String], batch: Int) {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        var i = 0
        while i < records.count {
            exec("BEGIN")
            for k in i..<min(records.count, i + batch) {
                sqlite3_bind_int64(insert, 1, Int64(k + 1))
                sqlite3_bind_text(insert, 2, streams[k], -1, transient)
                sqlite3_bind_int64(insert, 3, Int64(keys[k].version))
                sqlite3_bind_text(insert, 4, types[k], -1, transient)
                sqlite3_bind_text(insert, 5, nodes[k], -1, transient)
                sqlite3_bind_int64(insert, 6, Int64(bitPattern: keys[k].time))
                records[k].withUnsafeBytes { _ = sqlite3_bind_blob(insert, 7, $0.baseAddress, Int32($0.count), transient) }
                sqlite3_step(insert)
                sqlite3_reset(insert)
            }
            exec("COMMIT")
            i += batch
        }
    }
}
