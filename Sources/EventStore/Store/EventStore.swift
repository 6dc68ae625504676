import CLMDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The durable, hash-chained event log of one node, in an LMDB environment directory.
///
/// Appends from any number of threads or tasks are coalesced into one write transaction and one
/// sync (group commit); each call returns once its own events are durable. Reads never block the
/// writer and may come from other processes.
///
/// ```swift
/// let store = try EventStore.open(at: "/var/lib/agent/store")
/// let result = try await store.append([NewEvent(type: "operator.note", stream: "node/a",
///                                               data: ["text": "drain started"])])
/// for event in try store.query(EventQuery(type: "operator.note")).collect() { print(event.seq) }
/// ```
public final class EventStore: @unchecked Sendable {
    // @unchecked: mutable state lives in `Writer` (its own lock) and `HeadWatch` (its own lock).
    public let path: String
    public let nodeID: String
    /// This store's identity as a replica of shared state (see `ReplicaID`): unique per store,
    /// unlike the node id, which names the host for people.
    public var replicaID: String { replicaLock.withLock { replicaStorage } }
    private let replicaLock = Mutex()
    private var replicaStorage: String
    public let options: StoreOptions
    let env: Environment
    private let writerLock = Mutex()
    private var writerStorage: Writer?
    let headWatch = HeadWatch()
    /// Warm name caches shared by this store's scans.
    let interners = InternerPool()
    /// Buffers reused by parallel scans of records.
    let chunkStorage = ChunkStoragePool()

    /// The store format this build writes and the newest it reads. Format 2 records carry
    /// their payload length; format 3 keys the `ids` database by clock (`IdKey`); in format 4
    /// the `heads` database is kept by the indexer, behind its checkpoint (`StreamTail`), so
    /// a build that trusts it to be current must refuse the store. Older stores are read, and
    /// upgraded when opened for writing: their `ids` database is rebuilt (before 3), and the
    /// records appended from then on are record format 2. Their `heads`, written at append,
    /// are complete, which format 4 accepts as it is.
    public static let formatVersion = 4

    private init(path: String, nodeID: String, replicaID: String, options: StoreOptions, env: Environment) {
        self.path = path
        self.nodeID = nodeID
        self.replicaStorage = replicaID
        self.options = options
        self.env = env
    }

    /// Opens the store at `path`, creating it when `options.create` is true and the directory is
    /// missing or empty.
    public static func open(at path: String, options: StoreOptions = StoreOptions()) throws(StoreError) -> EventStore {
        do {
            let creating = try prepareDirectory(path, create: options.create)
            let env = try Environment(path: path, mapSize: options.mapSize, maximumMapSize: options.maximumMapSize,
                                      maxReaders: options.maxReaders, metaAsync: options.durability == .metaAsync,
                                      readOnly: false)
            env.commitFault = options.commitFault
            let nodeID: String
            if creating {
                nodeID = try env.createDatabases { txn in try readOrInitialiseMeta(txn, path: path, options: options) }
            } else {
                try env.openDatabases()
                nodeID = try env.read { txn in try readOrInitialiseMeta(txn, path: path, options: nil) }
                try upgradeFormat(env)
            }
            let replicaID = try ReplicaID.loadOrAssign(env, path: path, proposed: options.replicaID)
            let store = EventStore(path: path, nodeID: nodeID, replicaID: replicaID, options: options, env: env)
            store.headWatch.publish(try store.head().seq)
            return store
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.io(operation: "opening \(path)", code: -1, message: "\(error)")
        }
    }

    /// Checks the directory before LMDB touches it. Returns true when a new store is to be made.
    private static func prepareDirectory(_ path: String, create: Bool) throws(StoreError) -> Bool {
        var info = stat()
        if stat(path, &info) != 0 {
            guard create else { throw .storeNotFound(path: path) }
            guard mkdir(path, 0o755) == 0 else {
                if errno == EACCES || errno == EROFS { throw .readOnly(path: path) }
                throw .io(operation: "creating \(path)", code: errno, message: String(cString: strerror(errno)))
            }
            return true
        }
        guard (info.st_mode & S_IFMT) == S_IFDIR else {
            throw .notAStore(path: path, reason: "it is a file, not a store directory")
        }
        let dataFile = path + "/data.mdb"
        if access(dataFile, F_OK) != 0 {
            let entries = directoryEntries(path).filter { $0 != "lock.mdb" }
            guard entries.isEmpty else {
                throw .notAStore(path: path, reason: "the directory holds other files and no data.mdb")
            }
            guard create else { throw .storeNotFound(path: path) }
            if access(path, W_OK) != 0 { throw .readOnly(path: path) }
            return true
        }
        if let problem = MetaPageProbe.check(dataFile: dataFile) {
            if case .notAStore(_, let reason) = problem { throw .notAStore(path: path, reason: reason) }
            throw problem
        }
        if access(path, W_OK) != 0 || access(dataFile, W_OK) != 0 { throw .readOnly(path: path) }
        return false
    }

    private static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Reads the node id and checks the format; with `options` (a new store) writes them first.
    private static func readOrInitialiseMeta(_ txn: Transaction, path: String, options: StoreOptions?) throws -> String {
        if let format = try txn.get(txn.dbs.meta, Key.text("format")) {
            guard format.count == 1 else { throw StoreError.notAStore(path: path, reason: "malformed format marker") }
            guard Int(format[0]) <= formatVersion else {
                throw StoreError.newerFormat(path: path, found: Int(format[0]), supported: formatVersion)
            }
            guard let node = try txn.get(txn.dbs.meta, Key.text("node")), let text = String(validating: node, as: UTF8.self)
            else { throw StoreError.notAStore(path: path, reason: "no node id recorded") }
            return text
        }
        guard let options, try txn.entryCount(txn.dbs.events) == 0 else {
            throw StoreError.notAStore(path: path, reason: "no format marker")
        }
        let node = options.nodeID ?? hostName()
        do { try NewEvent.checkName(node, field: "node id") } catch {
            throw StoreError.invalidEvent(index: -1, field: "node id", message: error.message)
        }
        try txn.put(txn.dbs.meta, Key.text("format"), [UInt8(formatVersion)])
        try txn.put(txn.dbs.meta, Key.text("node"), Key.text(node))
        try txn.put(txn.dbs.meta, Key.text("created"), Key.seq(UInt64(bitPattern: options.clock.now().nanoseconds)))
        return node
    }

    /// Upgrades an older store to this build's format in one transaction (only ever upgrades).
    private static func upgradeFormat(_ env: Environment) throws {
        let stored = try env.read { txn in try txn.get(txn.dbs.meta, Key.text("format")).flatMap(\.first) } ?? UInt8(formatVersion)
        guard Int(stored) < formatVersion else { return }
        try env.write { txn in
            let stored = try txn.get(txn.dbs.meta, Key.text("format")).flatMap(\.first) ?? UInt8(formatVersion)
            guard Int(stored) < formatVersion else { return }
            if stored < 3 { try IdKey.rebuild(txn) }
            try txn.put(txn.dbs.meta, Key.text("format"), [UInt8(formatVersion)])
        }
    }

    /// Gives this store a new replica id and returns it. For a store restored from a backup or
    /// copied from another node: its lost tail may already have reached peers under the old id,
    /// so reusing the old id's counters would give two different operations one identity.
    @discardableResult
    public func renewReplicaID(_ proposed: String? = nil) throws(StoreError) -> String {
        let fresh = try ReplicaID.checked(proposed ?? ReplicaID.random())
        try storeCall { try env.write { txn in try txn.put(txn.dbs.meta, ReplicaID.metaKey, Key.text(fresh)) } }
        replicaLock.withLock { replicaStorage = fresh }
        return fresh
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "node" }
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return name.isEmpty ? "node" : name
    }

    var writer: Writer {
        writerLock.withLock {
            if let writerStorage { return writerStorage }
            let created = Writer(env: env, options: options, nodeID: nodeID, headWatch: headWatch)
            writerStorage = created
            return created
        }
    }

    /// Stops the writer thread after it has finished what was queued. Appends after `close()`
    /// fail with `StoreError.closed`. The LMDB environment closes when the last reference goes.
    public func close() {
        let current = writerLock.withLock { writerStorage }
        current?.stop()
        headWatch.finish()
    }

    deinit { writerStorage?.stop() }

    // MARK: Appending

    /// Appends `events` as one atomic batch and returns after it is durable.
    ///
    /// Events whose `id` the store already holds are skipped (their existing positions are
    /// returned), so retrying a call is safe. `expecting` maps streams to the version they must be
    /// at; on a mismatch nothing of this batch is written and `StoreError.conflict` is thrown.
    public func append(_ events: [NewEvent], expecting: [String: ExpectedVersion] = [:]) async throws(StoreError) -> AppendResult {
        let batch = try PreparedBatch(events, expecting: expecting, vocabularies: options.vocabularies)
        let writer = self.writer
        let result: Result<AppendResult, StoreError> = await withCheckedContinuation { continuation in
            writer.submit(batch) { continuation.resume(returning: $0) }
        }
        return try result.get()
    }

    /// Checks `events` as an append would (envelope, names, payload values and nesting, and
    /// the payloads of the types `vocabularies` know) without a store: for a dry run of an
    /// import, and for fuzzing the validation itself. Throws the error the append would.
    public static func validate(_ events: [NewEvent], vocabularies: [any EventVocabulary]) throws(StoreError) {
        _ = try PreparedBatch(events, expecting: [:], vocabularies: vocabularies)
    }

    /// The blocking form of `append`, for threads that are not in an async context.
    public func appendBlocking(_ events: [NewEvent], expecting: [String: ExpectedVersion] = [:]) throws(StoreError) -> AppendResult {
        let batch = try PreparedBatch(events, expecting: expecting, vocabularies: options.vocabularies)
        let done = Semaphore()
        let box = ResultBox()
        writer.submit(batch) { result in
            box.result = result
            done.signal()
        }
        done.wait()
        guard let result = box.result else { throw StoreError.closed }
        return try result.get()
    }

    /// Counters of the writer: how many append calls, events and transactions.
    public var metrics: WriterMetrics { writerLock.withLock { writerStorage?.metricsSnapshot() ?? WriterMetrics() } }

    // MARK: Head

    /// The newest position and its hash (seq 0 and the zero digest for an empty store).
    public func head() throws(StoreError) -> (seq: UInt64, hash: Digest) {
        try storeCall { try env.read { txn in try Head.load(txn).chain } }
    }

    /// Runs a store operation, turning any failure into a `StoreError`.
    func storeCall<T>(_ body: () throws -> T) throws(StoreError) -> T {
        do { return try body() } catch let error as StoreError {
            throw error
        } catch is MapFullSignal {
            throw StoreError.diskFull(path: path)
        } catch {
            throw StoreError.io(operation: "store", code: -1, message: "\(error)")
        }
    }
}

/// Append counters, for metrics and for observing group commit.
public struct WriterMetrics: Sendable, Hashable {
    public var appendCalls = 0
    public var eventsWritten = 0
    public var eventsSkipped = 0
    public var transactions = 0
    public var conflicts = 0
    public var indexBatches = 0
    public var eventsIndexed = 0
    public var mapGrowths = 0
}

/// The position, hash and clock at the end of the log, read inside a transaction.
struct Head {
    var seq: UInt64
    var hash: Digest
    var clock: HLC
    var chain: (seq: UInt64, hash: Digest) { (seq, hash) }

    static func load(_ txn: Transaction) throws -> Head {
        let cursor = try txn.cursor(txn.dbs.events)
        defer { cursor.close() }
        var head = Head(seq: 0, hash: .zero, clock: .zero)
        if let last = try cursor.get(MDB_LAST) {
            guard last.key.count == 8, let hash = Record.storedHash(last.value) else {
                throw StoreError.corrupt(seq: 0, "the last record's key or header is malformed")
            }
            head.seq = try Key.readUInt64(last.key)
            head.hash = hash
        } else if let anchor = try ArchiveMarks.load(txn).last {
            // Every live event was archived: the log goes on from the anchor.
            head.seq = anchor.throughSeq
            head.hash = anchor.hash
        }
        if let stored = try txn.get(txn.dbs.meta, Key.text("hlc")) {
            guard let clock = Head.decodeClock(stored) else { throw StoreError.corrupt(seq: 0, "malformed stored clock") }
            head.clock = clock
        }
        return head
    }

    /// The clock is stored as wall (8 bytes, BE) ‖ logical (4 bytes, BE).
    static func encodeClock(_ clock: HLC) -> [UInt8] {
        Key.seq(UInt64(bitPattern: clock.wall)) + withUnsafeBytes(of: clock.logical.bigEndian) { Array($0) }
    }

    static func decodeClock(_ bytes: [UInt8]) -> HLC? {
        guard bytes.count == 12 else { return nil }
        let logical = bytes[8..<12].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        guard let wall = try? Key.readUInt64(bytes) else { return nil }
        return HLC(wall: Int64(bitPattern: wall), logical: logical)
    }
}
