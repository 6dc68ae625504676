import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The named databases of a store (ARCHITECTURE.md, storage layout).
struct Databases {
    var events: MDB_dbi = 0       // seq (BE) -> record
    var heads: MDB_dbi = 0        // stream -> head version (BE) ‖ last seq (BE)
    var ids: MDB_dbi = 0          // event id -> seq (BE)
    var streams: MDB_dbi = 0      // dupsort: stream -> version (BE) ‖ seq (BE)
    var types: MDB_dbi = 0        // dupsort: type -> seq (BE)
    var tags: MDB_dbi = 0         // dupsort: "n" node | "c" correlation | "t" key=value -> seq (BE)
    var time: MDB_dbi = 0         // time ns (BE, sign-flipped) ‖ seq (BE) -> empty
    var checkpoints: MDB_dbi = 0  // name -> seq (BE) [‖ projection version (BE u32)]
    var snapshots: MDB_dbi = 0    // projection name ‖ 0 ‖ seq (BE) -> version (BE u32) ‖ digest ‖ state
    var meta: MDB_dbi = 0         // "format", "node", "hlc", "created"

    // Immutable; key paths are not Sendable, hence nonisolated(unsafe).
    nonisolated(unsafe) static let layout: [(String, UInt32, WritableKeyPath<Databases, MDB_dbi>)] = [
        ("events", 0, \.events), ("heads", 0, \.heads), ("ids", 0, \.ids),
        ("streams", UInt32(MDB_DUPSORT | MDB_DUPFIXED), \.streams),
        ("types", UInt32(MDB_DUPSORT | MDB_DUPFIXED), \.types),
        ("tags", UInt32(MDB_DUPSORT | MDB_DUPFIXED), \.tags),
        ("time", 0, \.time), ("checkpoints", 0, \.checkpoints), ("meta", 0, \.meta),
        ("snapshots", 0, \.snapshots),
    ]

    /// Databases that stores made by earlier builds lack; opening such a store adds them.
    static let addedLater: Set<String> = ["snapshots"]
}

private enum WriteAttempt<T> { case done(T), resized, mapFull }

/// Signals that a write transaction ran out of map; the environment grows the map and reruns it.
struct MapFullSignal: Error {}

/// An LMDB environment and the synchronisation around it.
///
/// `@unchecked Sendable`: the `MDB_env` pointer is thread-safe by LMDB's contract when opened with
/// `MDB_NOTLS`; growing the map is serialised by `gate`, which every transaction holds shared.
final class Environment: @unchecked Sendable {
    let handle: OpaquePointer
    let path: String
    private(set) var dbs = Databases()
    let gate = ReadWriteLock()
    let maximumMapSize: Int
    /// Reader slots this process asked for (the first opener of a store fixes the real number).
    let maxReaders: Int
    private let growthLock = Mutex()
    /// The test-only fault hook of `StoreOptions.commitFault`.
    var commitFault: (@Sendable () -> Int32?)?

    init(path: String, mapSize: Int, maximumMapSize: Int, maxReaders: Int, metaAsync: Bool, readOnly: Bool) throws {
        var env: OpaquePointer?
        try Environment.check(mdb_env_create(&env), "mdb_env_create", path: path)
        guard let env else { throw StoreError.io(operation: "mdb_env_create", code: -1, message: "no environment") }
        handle = env
        self.path = path
        self.maximumMapSize = maximumMapSize
        self.maxReaders = maxReaders
        do {
            try Environment.check(mdb_env_set_maxdbs(env, 16), "mdb_env_set_maxdbs", path: path)
            try Environment.check(mdb_env_set_maxreaders(env, UInt32(maxReaders)), "mdb_env_set_maxreaders", path: path)
            try Environment.check(mdb_env_set_mapsize(env, Environment.roundedMapSize(mapSize)), "mdb_env_set_mapsize", path: path)
            var flags = UInt32(MDB_NOTLS)
            if metaAsync { flags |= UInt32(MDB_NOMETASYNC) }
            if readOnly { flags |= UInt32(MDB_RDONLY) }
            try Environment.check(mdb_env_open(env, path, flags, 0o644), "opening the store", path: path)
        } catch {
            mdb_env_close(env)
            throw error
        }
    }

    deinit { mdb_env_close(handle) }

    static func roundedMapSize(_ size: Int) -> Int {
        let unit = 1 << 20
        return max(unit, (size + unit - 1) / unit * unit)
    }

    /// Opens (or, for a writer, creates) the named databases. Opening an existing store uses a
    /// read transaction, committed so that the handles outlive it, so that readers never take
    /// the write lock.
    func openDatabases() throws {
        do {
            try openDatabasesReadOnly()
        } catch StoreError.notAStore(_, let reason) where Databases.addedLater.contains(where: { reason.contains("'\($0)'") }) {
            // A store from before a database existed: add it (an empty database changes nothing).
            _ = try createDatabases { _ in () }
        }
    }

    private func openDatabasesReadOnly() throws {
        try gate.withShared {
            var txn: OpaquePointer?
            try Environment.check(mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn), "beginning a read transaction", path: path)
            guard let txn else { throw StoreError.io(operation: "mdb_txn_begin", code: -1, message: "no transaction") }
            do {
                try openEach(Transaction(handle: txn, dbs: dbs, path: path), create: false)
            } catch {
                mdb_txn_abort(txn)
                throw error
            }
            try Environment.check(mdb_txn_commit(txn), "opening databases", path: path)
        }
    }

    /// Creates the named databases and runs `initialise` in the same transaction, so a crash
    /// while creating a store leaves nothing half-made.
    func createDatabases<T>(initialise: (Transaction) throws -> T) throws -> T {
        try write { txn in
            try openEach(txn, create: true)
            return try initialise(Transaction(handle: txn.handle, dbs: dbs, path: path))
        }
    }

    private func openEach(_ txn: Transaction, create: Bool) throws {
        for (name, flags, keyPath) in Databases.layout {
            var dbi: MDB_dbi = 0
            let rc = mdb_dbi_open(txn.handle, name, flags | (create ? UInt32(MDB_CREATE) : 0), &dbi)
            if rc == MDB_NOTFOUND || rc == MDB_INCOMPATIBLE {
                throw StoreError.notAStore(path: path, reason: "it has no '\(name)' database")
            }
            try Environment.check(rc, "opening database \(name)", path: path)
            dbs[keyPath: keyPath] = dbi
        }
    }

    /// Runs `body` in a read-only transaction. The transaction must not escape `body`.
    func read<T>(_ body: (Transaction) throws -> T) throws -> T {
        while true {
            let outcome: T? = try gate.withShared {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(handle, nil, UInt32(MDB_RDONLY), &txn)
                if rc == MDB_MAP_RESIZED { return nil }
                if rc == MDB_READERS_FULL { throw StoreError.tooManyReaders(maximum: maxReaders) }
                try Environment.check(rc, "beginning a read transaction", path: path)
                guard let txn else { throw StoreError.io(operation: "mdb_txn_begin", code: -1, message: "no transaction") }
                defer { mdb_txn_abort(txn) }
                return try body(Transaction(handle: txn, dbs: dbs, path: path))
            }
            if let outcome { return outcome }
            try adoptForeignMapSize()
        }
    }

    /// Runs `body` in a write transaction and commits it. When the map is full the transaction
    /// is aborted, the map grown and `body` run again, so `body` must derive everything it writes
    /// from what it reads in the transaction.
    func write<T>(_ body: (Transaction) throws -> T) throws -> T {
        while true {
            let attempt: WriteAttempt<T> = try gate.withShared {
                var txn: OpaquePointer?
                let rc = mdb_txn_begin(handle, nil, 0, &txn)
                if rc == MDB_MAP_RESIZED { return .resized }
                try Environment.check(rc, "beginning a write transaction", path: path)
                guard let txn else { throw StoreError.io(operation: "mdb_txn_begin", code: -1, message: "no transaction") }
                let result: T
                do {
                    result = try body(Transaction(handle: txn, dbs: dbs, path: path))
                } catch is MapFullSignal {
                    mdb_txn_abort(txn)
                    return .mapFull
                } catch {
                    mdb_txn_abort(txn)
                    throw error
                }
                let commit: Int32
                if let injected = commitFault?() {
                    // As if the disk had failed the commit: nothing of the transaction lands.
                    mdb_txn_abort(txn)
                    commit = injected
                } else {
                    commit = mdb_txn_commit(txn)
                }
                if commit == MDB_MAP_FULL { return .mapFull }
                if [EIO, ENOSPC, EFBIG, EDQUOT].contains(commit), spaceExhausted() { throw StoreError.diskFull(path: path) }
                try Environment.check(commit, "committing", path: path)
                return .done(result)
            }
            switch attempt {
            case .done(let result): return result
            case .resized: try adoptForeignMapSize()
            case .mapFull: try growMap()
            }
        }
    }

    /// LMDB reports a short write as EIO, which is also what a full disk produces; this tells the
    /// two apart by looking at the filesystem's free space and the process's file-size limit.
    private func spaceExhausted() -> Bool {
        var fs = statvfs()
        if statvfs(path, &fs) == 0, UInt64(fs.f_bavail) * UInt64(fs.f_frsize) < 64 << 20 { return true }
        var limit = rlimit()
        var file = stat()
        if getrlimit(Int32(RLIMIT_FSIZE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
           stat(path + "/data.mdb", &file) == 0, UInt64(file.st_size) + (1 << 20) >= UInt64(limit.rlim_cur) {
            return true
        }
        return false
    }

    var mapSize: Int {
        var info = MDB_envinfo()
        mdb_env_info(handle, &info)
        return info.me_mapsize
    }

    var pageSize: Int {
        var stat = MDB_stat()
        mdb_env_stat(handle, &stat)
        return Int(stat.ms_psize)
    }

    /// Doubles the map (capped by `maximumMapSize`); another process adopts the new size when its
    /// next transaction meets MDB_MAP_RESIZED.
    private func growMap() throws {
        try gate.withExclusive {
            let current = mapSize
            guard current < maximumMapSize else { throw StoreError.diskFull(path: path) }
            let target = Environment.roundedMapSize(min(maximumMapSize, max(current * 2, current + (64 << 20))))
            try Environment.check(mdb_env_set_mapsize(handle, target), "growing the map", path: path)
        }
    }

    private func adoptForeignMapSize() throws {
        try gate.withExclusive {
            try Environment.check(mdb_env_set_mapsize(handle, 0), "adopting the map size", path: path)
        }
    }

    /// Maps an LMDB or errno result to a typed error.
    static func check(_ rc: Int32, _ operation: String, path: String) throws {
        guard rc != 0 else { return }
        switch rc {
        case MDB_MAP_FULL: throw MapFullSignal()
        case ENOSPC, EDQUOT, EFBIG: throw StoreError.diskFull(path: path)
        case EACCES, EROFS, EPERM: throw StoreError.readOnly(path: path)
        case MDB_READERS_FULL: throw StoreError.tooManyReaders(maximum: -1)
        case MDB_INVALID: throw StoreError.notAStore(path: path, reason: "data.mdb is not an LMDB file")
        case MDB_VERSION_MISMATCH: throw StoreError.notAStore(path: path, reason: "LMDB version mismatch")
        default:
            let message = mdb_strerror(rc).map { String(cString: $0) } ?? "error \(rc)"
            throw StoreError.io(operation: operation, code: rc, message: message)
        }
    }
}

/// A transaction handle valid only inside the closure that received it. Returned buffers point
/// into the map and are valid only until the transaction ends.
struct Transaction {
    let handle: OpaquePointer
    let dbs: Databases
    let path: String

    func get(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws -> UnsafeRawBufferPointer? {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val()
        let rc = mdb_get(handle, dbi, &k, &v)
        if rc == MDB_NOTFOUND { return nil }
        try Environment.check(rc, "reading", path: path)
        return UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size)
    }

    func get(_ dbi: MDB_dbi, _ key: [UInt8]) throws -> [UInt8]? {
        try key.withUnsafeBytes { try get(dbi, $0).map { Array($0) } }
    }

    /// Returns false when `flags` include MDB_NOOVERWRITE and the key exists.
    @discardableResult
    func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: Int32 = 0) throws -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = mdb_put(handle, dbi, &k, &v, UInt32(flags))
        if rc == MDB_KEYEXIST { return false }
        try Environment.check(rc, "writing", path: path)
        return true
    }

    @discardableResult
    func put(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8], flags: Int32 = 0) throws -> Bool {
        try key.withUnsafeBytes { k in try value.withUnsafeBytes { v in try put(dbi, k, v, flags: flags) } }
    }

    /// Returns false when the key was not there.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer) throws -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        let rc = mdb_del(handle, dbi, &k, nil)
        if rc == MDB_NOTFOUND { return false }
        try Environment.check(rc, "deleting", path: path)
        return true
    }

    /// Deletes one key/value pair of a dupsort database; returns false when it was not there.
    @discardableResult
    func delete(_ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws -> Bool {
        try key.withUnsafeBytes { k in
            try value.withUnsafeBytes { v in
                var kv = MDB_val(mv_size: k.count, mv_data: UnsafeMutableRawPointer(mutating: k.baseAddress))
                var vv = MDB_val(mv_size: v.count, mv_data: UnsafeMutableRawPointer(mutating: v.baseAddress))
                let rc = mdb_del(handle, dbi, &kv, &vv)
                if rc == MDB_NOTFOUND { return false }
                try Environment.check(rc, "deleting", path: path)
                return true
            }
        }
    }

    func cursor(_ dbi: MDB_dbi) throws -> Cursor {
        var c: OpaquePointer?
        try Environment.check(mdb_cursor_open(handle, dbi, &c), "opening a cursor", path: path)
        guard let c else { throw StoreError.io(operation: "mdb_cursor_open", code: -1, message: "no cursor") }
        return Cursor(handle: c, path: path)
    }

    /// Deletes every entry of a database, keeping the database.
    func clear(_ dbi: MDB_dbi) throws {
        try Environment.check(mdb_drop(handle, dbi, 0), "clearing a database", path: path)
    }

    func entryCount(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try Environment.check(mdb_stat(handle, dbi, &stat), "mdb_stat", path: path)
        return stat.ms_entries
    }

    func pageCount(_ dbi: MDB_dbi) throws -> Int {
        var stat = MDB_stat()
        try Environment.check(mdb_stat(handle, dbi, &stat), "mdb_stat", path: path)
        return stat.ms_branch_pages + stat.ms_leaf_pages + stat.ms_overflow_pages
    }
}

/// An LMDB cursor; closed with `close()` before its transaction ends.
struct Cursor {
    let handle: OpaquePointer
    let path: String

    typealias Entry = (key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer)

    /// Positions the cursor. `key` and `value` are inputs for the SET/GET_BOTH family.
    func get(_ op: MDB_cursor_op, key: UnsafeRawBufferPointer? = nil, value: UnsafeRawBufferPointer? = nil) throws -> Entry? {
        var k = MDB_val(mv_size: key?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: key?.baseAddress))
        var v = MDB_val(mv_size: value?.count ?? 0, mv_data: UnsafeMutableRawPointer(mutating: value?.baseAddress))
        let rc = mdb_cursor_get(handle, &k, &v, op)
        if rc == MDB_NOTFOUND { return nil }
        try Environment.check(rc, "reading with a cursor", path: path)
        return (UnsafeRawBufferPointer(start: k.mv_data, count: k.mv_size),
                UnsafeRawBufferPointer(start: v.mv_data, count: v.mv_size))
    }

    func get(_ op: MDB_cursor_op, key: [UInt8], value: [UInt8]? = nil) throws -> Entry? {
        try key.withUnsafeBytes { k in
            if let value { return try value.withUnsafeBytes { v in try get(op, key: k, value: v) } }
            return try get(op, key: k)
        }
    }

    /// Returns false when LMDB answered MDB_KEYEXIST: the pair exists, or (with MDB_APPEND or
    /// MDB_APPENDDUP) it does not sort after the last one.
    @discardableResult
    func put(_ key: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer, flags: Int32 = 0) throws -> Bool {
        var k = MDB_val(mv_size: key.count, mv_data: UnsafeMutableRawPointer(mutating: key.baseAddress))
        var v = MDB_val(mv_size: value.count, mv_data: UnsafeMutableRawPointer(mutating: value.baseAddress))
        let rc = mdb_cursor_put(handle, &k, &v, UInt32(flags))
        if rc == MDB_KEYEXIST { return false }
        try Environment.check(rc, "writing with a cursor", path: path)
        return true
    }

    /// The number of duplicates at the cursor's key (dupsort databases).
    func duplicateCount() throws -> Int {
        var count = 0
        try Environment.check(mdb_cursor_count(handle, &count), "mdb_cursor_count", path: path)
        return count
    }

    func close() { mdb_cursor_close(handle) }
}

/// Big-endian key encodings, so LMDB's bytewise order is numeric order.
enum Key {
    static func seq(_ value: UInt64) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    /// The big-endian UInt64 at `offset`. Keys and values come from the file, which may be
    /// corrupt or crafted: one too short for the read is a typed error, never a read past its end
    /// (release builds drop the buffer's own bounds checks).
    static func readUInt64(_ buffer: UnsafeRawBufferPointer, at offset: Int = 0) throws(StoreError) -> UInt64 {
        guard offset >= 0, offset <= buffer.count - 8, let base = buffer.baseAddress else {
            throw .malformedEntry("a stored key or value of \(buffer.count) bytes has no 8-byte number at offset \(offset)")
        }
        return UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    static func readUInt64(_ bytes: [UInt8], at offset: Int = 0) throws(StoreError) -> UInt64 {
        let result = bytes.withUnsafeBytes { buffer in Result { () throws(StoreError) in try readUInt64(buffer, at: offset) } }
        return try result.get()
    }

    static func pair(_ a: UInt64, _ b: UInt64) -> [UInt8] { seq(a) + seq(b) }

    /// Time keys flip the sign bit so negative times sort before positive ones.
    static func time(_ time: Timestamp, _ seq: UInt64) -> [UInt8] {
        pair(UInt64(bitPattern: time.nanoseconds) ^ (1 << 63), seq)
    }

    static func timeValue(_ encoded: UInt64) -> Timestamp { Timestamp(nanoseconds: Int64(bitPattern: encoded ^ (1 << 63))) }

    static func text(_ s: String) -> [UInt8] { Array(s.utf8) }
}
