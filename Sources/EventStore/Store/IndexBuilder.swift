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
        return Key.readUInt64(value)
    }

    /// The keys an event is listed under in `tags`: its node, its correlation, each tag.
    static func tagKeys(node: String, correlation: String?, tags: [String: String]) -> [TagIndexKey] {
        var keys: [TagIndexKey] = [.node(node)]
        if let correlation { keys.append(.correlation(correlation)) }
        for (k, v) in tags { keys.append(.tag(k, v)) }
        return keys
    }

    static func nodeKey(_ node: String) -> [UInt8] { [UInt8(ascii: "n")] + Array(node.utf8) }
    static func correlationKey(_ c: String) -> [UInt8] { [UInt8(ascii: "c")] + Array(c.utf8) }
    static func tagKey(_ key: String, _ value: String) -> [UInt8] { [UInt8(ascii: "t")] + Array("\(key)=\(value)".utf8) }

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
            let seq = Key.readUInt64(current.key)
            if seq > batch.to { break }
            batch.add(try Record.decode(current.value, expectedSeq: seq, fields: [.tags, .links]))
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

/// The entries of a run of events, grouped per index key. Events arrive in seq order, so the
/// values under one key arrive already in LMDB's duplicate order (seq, or version then seq):
/// grouping replaces a sort of every entry by a sort of the distinct keys.
struct PreparedIndexBatch {
    let from: UInt64
    let to: UInt64
    private(set) var count = 0
    var streams = IndexRuns<String>(valueWords: 2) { Key.text($0) }
    var types = IndexRuns<String>(valueWords: 1) { Key.text($0) }
    var tags = IndexRuns<TagIndexKey>(valueWords: 1) { $0.bytes }
    /// `time` keys (time with the sign bit flipped, seq), nearly always already in order.
    private var times: [(UInt64, UInt64)] = []

    init(from: UInt64, to: UInt64) {
        self.from = from
        self.to = to
        times.reserveCapacity(Int(to - from))
    }

    mutating func add(_ e: Event) {
        count += 1
        streams.add(e.stream, e.version, e.seq)
        types.add(e.type, e.seq)
        for key in IndexBuilder.tagKeys(node: e.node, correlation: e.correlation, tags: e.tags) { tags.add(key, e.seq) }
        times.append((UInt64(bitPattern: e.time.nanoseconds) ^ (1 << 63), e.seq))
    }

    /// Moves the `heads` entry of every stream of the batch to its last event here, unless
    /// the entry is already further on (a store written by format 3, whose appends kept the
    /// heads themselves).
    func updateHeads(_ txn: Transaction) throws {
        for (stream, last) in streams.lastValues().sorted(by: { $0.name < $1.name }) {
            let version = last.first ?? 0, seq = last.last ?? 0
            if try StreamTail.stored(stream, in: txn).lastSeq < seq {
                try txn.put(txn.dbs.heads, Key.text(stream), Key.pair(version, seq))
            }
        }
    }

    func insertTimes(_ txn: Transaction) throws {
        var ordered = times
        if zip(ordered, ordered.dropFirst()).contains(where: { $0 > $1 }) { ordered.sort { $0 < $1 } }
        let cursor = try txn.cursor(txn.dbs.time)
        defer { cursor.close() }
        var key = (UInt64(0), UInt64(0))
        for (time, seq) in ordered {
            key = (time.bigEndian, seq.bigEndian)
            try withUnsafeBytes(of: &key) { k in
                try cursor.putAppending(k, UnsafeRawBufferPointer(start: nil, count: 0), flag: MDB_APPEND)
            }
        }
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

/// The entries of one duplicate-sorted index, grouped per key: each value is `valueWords`
/// big-endian UInt64s.
struct IndexRuns<Name: Hashable> {
    private let valueWords: Int
    private let encode: (Name) -> [UInt8]
    private var slots: [Name: Int] = [:]
    private var names: [Name] = []
    private var values: [[UInt64]] = []

    init(valueWords: Int, encode: @escaping (Name) -> [UInt8]) {
        self.valueWords = valueWords
        self.encode = encode
    }

    mutating func add(_ name: Name, _ word: UInt64) {
        values[slot(name)].append(word)
    }

    mutating func add(_ name: Name, _ first: UInt64, _ second: UInt64) {
        let slot = slot(name)
        values[slot].append(first)
        values[slot].append(second)
    }

    private mutating func slot(_ name: Name) -> Int {
        if let existing = slots[name] { return existing }
        slots[name] = names.count
        names.append(name)
        values.append([])
        return names.count - 1
    }

    /// Each key with its last value (the `valueWords` words that arrived last).
    func lastValues() -> [(name: Name, words: ArraySlice<UInt64>)] {
        zip(names, values).map { ($0, $1.suffix(valueWords)) }
    }

    /// Inserts every entry, keys in LMDB order, each key's values in arrival order.
    func insert(_ txn: Transaction, _ dbi: MDB_dbi) throws {
        let keys = names.map(encode)
        let order = keys.indices.sorted { IndexBuilder.compareBytes(keys[$0], keys[$1]) < 0 }
        let cursor = try txn.cursor(dbi)
        defer { cursor.close() }
        var value = [UInt64](repeating: 0, count: valueWords)
        for slot in order {
            try keys[slot].withUnsafeBytes { k in
                let words = values[slot]
                var start = 0
                while start < words.count {
                    for w in 0..<valueWords { value[w] = words[start + w].bigEndian }
                    try value.withUnsafeBytes { v in try cursor.putAppending(k, v, flag: MDB_APPENDDUP) }
                    start += valueWords
                }
            }
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
