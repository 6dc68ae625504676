#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLMDB

/// Maintains the secondary indexes (`streams`, `types`, `tags`, `time`) like a projection: it
/// reads the log after its checkpoint and writes the entries of up to `limit` events in one
/// transaction, sorted per index, together with the new checkpoint. Inserting sorted runs
/// touches each index page about once per batch, where per-event inserts in the append
/// transaction rewrite about a thousand pages per index per commit.
enum IndexBuilder {
    static let checkpointKey = Key.text("index")

    static func checkpoint(_ txn: Transaction) throws -> UInt64 {
        guard let value = try txn.get(txn.dbs.checkpoints, checkpointKey) else { return 0 }
        guard value.count == 8 else { throw StoreError.corrupt(seq: 0, "malformed index checkpoint") }
        return Key.readUInt64(value)
    }

    /// The index keys an event is listed under in `tags`: its node, its correlation, each tag.
    static func tagKeys(node: String, correlation: String?, tags: [String: String]) -> [[UInt8]] {
        var keys: [[UInt8]] = [nodeKey(node)]
        if let correlation { keys.append(correlationKey(correlation)) }
        for (k, v) in tags { keys.append(tagKey(k, v)) }
        return keys
    }

    static func nodeKey(_ node: String) -> [UInt8] { [UInt8(ascii: "n")] + Array(node.utf8) }
    static func correlationKey(_ c: String) -> [UInt8] { [UInt8(ascii: "c")] + Array(c.utf8) }
    static func tagKey(_ key: String, _ value: String) -> [UInt8] { [UInt8(ascii: "t")] + Array("\(key)=\(value)".utf8) }

    struct Entries {
        var streams: [([UInt8], [UInt8])] = []
        var types: [([UInt8], [UInt8])] = []
        var tags: [([UInt8], [UInt8])] = []
        var time: [[UInt8]] = []

        mutating func add(_ e: Event) {
            let seqKey = Key.seq(e.seq)
            streams.append((Key.text(e.stream), Key.pair(e.version, e.seq)))
            types.append((Key.text(e.type), seqKey))
            for key in IndexBuilder.tagKeys(node: e.node, correlation: e.correlation, tags: e.tags) {
                tags.append((key, seqKey))
            }
            time.append(Key.time(e.time, e.seq))
        }
    }

    /// Indexes up to `limit` events after the checkpoint. Returns how many, and the lag left.
    static func step(env: Environment, limit: Int) throws -> (indexed: Int, lag: Int) {
        try env.write { txn in
            let from = try checkpoint(txn)
            let head = try Head.load(txn).seq
            guard head > from else { return (0, 0) }
            let to = min(head, from + UInt64(limit))
            var entries = Entries()
            let cursor = try txn.cursor(txn.dbs.events)
            defer { cursor.close() }
            var entry = try cursor.get(MDB_SET_RANGE, key: Key.seq(from + 1))
            while let current = entry {
                let seq = Key.readUInt64(current.key)
                if seq > to { break }
                entries.add(try Record.decode(current.value, expectedSeq: seq, fields: [.tags, .links]))
                entry = try cursor.get(MDB_NEXT)
            }
            try insertSorted(txn, txn.dbs.streams, entries.streams, appending: MDB_APPENDDUP)
            try insertSorted(txn, txn.dbs.types, entries.types, appending: MDB_APPENDDUP)
            try insertSorted(txn, txn.dbs.tags, entries.tags, appending: MDB_APPENDDUP)
            try insertSorted(txn, txn.dbs.time, entries.time.map { ($0, []) }, appending: MDB_APPEND)
            try txn.put(txn.dbs.checkpoints, checkpointKey, Key.seq(to))
            return (Int(to - from), Int(head - to))
        }
    }

    /// Inserts in key order. Batches index events in seq order, so a value nearly always sorts
    /// after every value already stored under its key (and a time key after the last one):
    /// `appending` (MDB_APPENDDUP or MDB_APPEND) then skips LMDB's search. When the guess is
    /// wrong (an event with an older time, a re-run after a crash) LMDB refuses the append and
    /// the entry is inserted normally, so nothing is lost.
    private static func insertSorted(_ txn: Transaction, _ dbi: MDB_dbi, _ entries: [([UInt8], [UInt8])], appending: Int32) throws {
        // LMDB's default order (memcmp, then length), which the cursor inserts fastest in.
        let sorted = entries.sorted { a, b in
            let byKey = compareBytes(a.0, b.0)
            return byKey == 0 ? compareBytes(a.1, b.1) < 0 : byKey < 0
        }
        let cursor = try txn.cursor(dbi)
        defer { cursor.close() }
        for (key, value) in sorted {
            try key.withUnsafeBytes { k in
                try value.withUnsafeBytes { v in
                    if try !cursor.put(k, v, flags: appending) { try cursor.put(k, v) }
                }
            }
        }
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

    /// Brings the indexes fully up to date; returns how many events were indexed.
    static func catchUp(env: Environment, batch: Int) throws -> Int {
        var total = 0
        while true {
            let step = try self.step(env: env, limit: batch)
            total += step.indexed
            if step.lag == 0 { return total }
        }
    }
}

/// Wakes in-process followers when the head advances.
final class HeadWatch: @unchecked Sendable {
    // @unchecked: all state is guarded by `lock`.
    private let lock = Mutex()
    private var head: UInt64 = 0
    private var finished = false
    private var waiters: [(after: UInt64, continuation: CheckedContinuation<UInt64?, Never>)] = []

    func publish(_ newHead: UInt64) {
        let (due, current) = lock.withLock { () -> ([CheckedContinuation<UInt64?, Never>], UInt64) in
            head = max(head, newHead)
            let due = waiters.filter { $0.after < head }.map(\.continuation)
            waiters.removeAll { $0.after < head }
            return (due, head)
        }
        for continuation in due { continuation.resume(returning: current) }
    }

    func finish() {
        let all = lock.withLock { () -> [CheckedContinuation<UInt64?, Never>] in
            finished = true
            defer { waiters = [] }
            return waiters.map(\.continuation)
        }
        for continuation in all { continuation.resume(returning: nil) }
    }

    /// Returns the head once it is beyond `position`, or nil when the store closes.
    func wait(after position: UInt64) async -> UInt64? {
        await withCheckedContinuation { continuation in
            let immediate: UInt64?? = lock.withLock {
                if finished { return .some(nil) }
                if head > position { return .some(head) }
                waiters.append((position, continuation))
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
