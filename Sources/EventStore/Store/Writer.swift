import CLMDB
import Foundation

/// The one thread of this process that writes the store.
///
/// Callers queue prepared batches; the thread takes everything queued, writes it in one LMDB
/// transaction (group commit: one sync for many callers), then completes each caller with its own
/// outcome. A conflicting batch is checked before anything of it is written, so it fails alone
/// without aborting the others. An `Indexer` keeps the secondary indexes current behind it.
final class Writer: @unchecked Sendable {
    // @unchecked: `queue`, `stopping` and `metrics` are guarded by `condition`; `hasher` is
    // touched only by the writer thread.
    typealias Completion = @Sendable (Result<AppendResult, StoreError>) -> Void

    private struct Pending {
        var batch: PreparedBatch
        var completion: Completion
    }

    private let env: Environment
    private let options: StoreOptions
    private let nodeID: String
    private let headWatch: HeadWatch
    private let condition = Condition()
    private var queue: [Pending] = []
    private var stopping = false
    private var stopped = false
    private var metrics = WriterMetrics()
    private var hasher: SHA256Hasher?
    /// Stream heads after the index checkpoint; touched only by the writer thread.
    private let tail = StreamTail()
    private var thread: Thread?
    /// Keeps the indexes current behind this writer (nil when `indexesInBackground` is off).
    private let indexer: Indexer?
    /// Wakes the callers of a large group while this thread goes on to the next group.
    private let completions = DispatchQueue(label: "recovery-engine-completions")
    /// At most this many events go into one group commit.
    private let maximumGroupEvents = 200_000

    init(env: Environment, options: StoreOptions, nodeID: String, headWatch: HeadWatch) {
        self.env = env
        self.options = options
        self.nodeID = nodeID
        self.headWatch = headWatch
        self.indexer = options.indexesInBackground ? Indexer(env: env, batchSize: options.indexBatchSize, maximumLag: options.maximumIndexLag) : nil
        let thread = Thread { [weak self] in self?.run() }
        thread.name = "recovery-engine-writer"
        thread.stackSize = 1 << 20
        self.thread = thread
        thread.start()
    }

    func submit(_ batch: PreparedBatch, completion: @escaping Completion) {
        let accepted = condition.locked { () -> Bool in
            guard !stopping else { return false }
            queue.append(Pending(batch: batch, completion: completion))
            condition.broadcast()
            return true
        }
        if !accepted { completion(.failure(.closed)) }
    }

    /// Finishes what is queued and indexes it, then ends the threads; returns when they have ended.
    func stop() {
        condition.locked {
            stopping = true
            condition.broadcast()
            while !stopped && thread != nil && !Thread.current.isEqual(thread) { condition.wait() }
        }
        completions.sync {}
        indexer?.stop()
    }

    func metricsSnapshot() -> WriterMetrics {
        var snapshot = condition.locked { metrics }
        if let counts = indexer?.counts {
            snapshot.indexBatches = counts.batches
            snapshot.eventsIndexed = counts.events
        }
        return snapshot
    }

    private func run() {
        do { hasher = try SHA256Hasher() } catch { hasher = nil }
        while true {
            let group: [Pending] = condition.locked {
                while queue.isEmpty && !stopping { condition.wait() }
                return takeGroup()
            }
            if group.isEmpty { break }
            guard let committedHead = commit(group) else { continue }
            headWatch.publish(committedHead)
            indexer?.noteHead(committedHead)
            indexer?.waitForLag(atMost: options.maximumIndexLag)
        }
        condition.locked {
            stopped = true
            condition.broadcast()
        }
    }

    /// Completes a group's callers. Waking many blocked callers one by one (a futex wake each)
    /// held the next group back, so a group of more than two is completed on another thread
    /// while this one writes the next; a lone caller is completed here, with no extra hop.
    private func complete(_ group: [Pending], with outcomes: [Result<AppendResult, StoreError>]) {
        if group.count <= 2 {
            for (pending, outcome) in zip(group, outcomes) { pending.completion(outcome) }
            return
        }
        completions.async {
            for (pending, outcome) in zip(group, outcomes) { pending.completion(outcome) }
        }
    }

    private func takeGroup() -> [Pending] {
        var taken = 0
        var count = 0
        for pending in queue {
            if count > 0 && taken + pending.batch.items.count > maximumGroupEvents { break }
            taken += pending.batch.items.count
            count += 1
        }
        let group = Array(queue.prefix(count))
        queue.removeFirst(count)
        return group
    }

    /// Writes a group in one transaction and completes its callers. Returns the new head.
    private func commit(_ group: [Pending]) -> UInt64? {
        guard let hasher else {
            for pending in group { pending.completion(.failure(.crypto("SHA-256 is unavailable"))) }
            return nil
        }
        var outcomes: [Result<AppendResult, StoreError>] = []
        var newHead: UInt64 = 0
        var written: [String: StreamTail.StreamHead] = [:]
        var growths = 0
        do {
            try env.write { txn in
                growths += 1
                var head = try Head.load(txn)
                try tail.catchUp(txn, head: head.seq)
                let now = options.clock.now()
                var appender = AppendTransaction(txn: txn, hasher: hasher, head: head, now: now, nodeID: nodeID,
                                                 maximumAheadMicros: options.maximumClockAheadMicros, tail: tail,
                                                 expectedEvents: group.reduce(0) { $0 + $1.batch.items.count })
                outcomes = try group.map { try appender.apply($0.batch) }
                head = appender.head
                try txn.put(txn.dbs.meta, Key.text("hlc"), Head.encodeClock(head.clock))
                newHead = head.seq
                written = appender.written
            }
            tail.committed(written, head: newHead)
        } catch {
            let failure = (error as? StoreError) ?? .io(operation: "append", code: -1, message: "\(error)")
            for pending in group { pending.completion(.failure(failure)) }
            return nil
        }
        condition.locked {
            metrics.transactions += 1
            metrics.mapGrowths += growths - 1
            for outcome in outcomes {
                metrics.appendCalls += 1
                switch outcome {
                case .success(let result):
                    metrics.eventsWritten += result.written
                    metrics.eventsSkipped += result.positions.count - result.written
                case .failure(.conflict):
                    metrics.conflicts += 1
                case .failure:
                    break
                }
            }
        }
        complete(group, with: outcomes)
        return newHead
    }

}

/// Writes the batches of one group commit inside its transaction.
struct AppendTransaction {
    let txn: Transaction
    let hasher: SHA256Hasher
    var head: Head
    let now: Timestamp
    let nodeID: String
    let maximumAheadMicros: Int64

    let tail: StreamTail
    /// The heads of the streams this transaction wrote, for the tail once it commits.
    private(set) var written: [String: StreamTail.StreamHead] = [:]
    /// One record and one id key at a time, in buffers reused across the transaction's events
    /// (a fresh allocation each was a tenth of the writer's work per event).
    private var record = CBORWriter(capacity: 1_024)
    private var idKey: [UInt8] = []

    init(txn: Transaction, hasher: SHA256Hasher, head: Head, now: Timestamp, nodeID: String, maximumAheadMicros: Int64,
         tail: StreamTail, expectedEvents: Int) {
        self.txn = txn
        self.tail = tail
        self.hasher = hasher
        self.head = head
        self.now = now
        self.nodeID = nodeID
        self.maximumAheadMicros = maximumAheadMicros
        // Sized once: grown event by event, the map was rehashed about ten times per commit.
        // Capped, as a large import may touch far fewer streams than it has events.
        written.reserveCapacity(min(expectedEvents, 16_384))
    }

    /// Applies one batch: everything that could refuse it is checked before the first write, so
    /// a refused batch leaves the transaction as it found it. LMDB failures propagate and abort
    /// the whole group.
    mutating func apply(_ batch: PreparedBatch) throws -> Result<AppendResult, StoreError> {
        // Items are read through a buffer pointer: an array subscript copied each item, a
        // retain and a release of every reference in it (a fifth of the writer's time, `perf`).
        try batch.items.withUnsafeBufferPointer { items in try apply(batch, items) }
    }

    private mutating func apply(_ batch: PreparedBatch, _ items: UnsafeBufferPointer<PreparedBatch.Item>) throws
        -> Result<AppendResult, StoreError> {
        var positions = [UInt64](repeating: 0, count: items.count)
        var firstIndexOfID: [String: Int] = [:]
        var duplicateOf: [Int: Int] = [:]
        var fresh: [Int] = []
        fresh.reserveCapacity(items.count)
        for k in items.indices {
            guard let id = items[k].id else { fresh.append(k); continue }
            if let existing = try txn.get(txn.dbs.ids, IdKey.make(id)) {
                positions[k] = try Key.readUInt64(existing)
            } else if let first = firstIndexOfID[id] {
                duplicateOf[k] = first
            } else {
                firstIndexOfID[id] = k
                fresh.append(k)
            }
        }
        if fresh.isEmpty {
            return .success(AppendResult(positions: positions, written: 0))
        }
        for (stream, expected) in batch.expectations.sorted(by: { $0.key < $1.key }) {
            let current = try streamHead(stream).version
            if !expected.admits(current) {
                return .failure(.conflict(stream: stream, expected: expected, actual: current))
            }
        }
        let bound = now.microseconds + maximumAheadMicros
        for k in fresh {
            if let remote = items[k].hlc, remote.wall > bound {
                return .failure(.clockAhead(eventIndex: k, remoteMicros: remote.wall,
                                            localMicros: now.microseconds, boundMicros: maximumAheadMicros))
            }
        }
        for k in fresh {
            positions[k] = try write(items[k])
        }
        for (k, first) in duplicateOf { positions[k] = positions[first] }
        return .success(AppendResult(positions: positions, written: fresh.count))
    }

    /// A stream's head as this transaction sees it, its own writes included.
    func streamHead(_ stream: String) throws -> StreamTail.StreamHead {
        if let head = written[stream] { return head }
        return try tail.head(of: stream, in: txn)
    }

    /// Borrowed, not copied: a copy of an item retained and released every reference in it.
    private mutating func write(_ item: borrowing PreparedBatch.Item) throws -> UInt64 {
        var hlc: HLC
        let id: Record.RecordID
        let node = item.node ?? nodeID
        if let remote = item.hlc {
            hlc = remote
            if remote > head.clock { head.clock = remote }
        } else {
            head.clock = HLC.tick(after: head.clock, now: now)
            hlc = head.clock
        }
        let seq = head.seq + 1
        if let given = item.id {
            id = .text(given)
            try IdKey.make(given).withUnsafeBytes { _ = try put(txn.dbs.ids, $0, seq: seq) }
        } else {
            // A generated id can meet one imported from another store that shares the node name:
            // move the clock on until the id is new.
            while true {
                IdKey.make(node: node, wall: hlc.wall, logical: hlc.logical, into: &idKey)
                if try idKey.withUnsafeBytes({ try put(txn.dbs.ids, $0, seq: seq, flags: MDB_NOOVERWRITE) }) { break }
                head.clock = head.clock.successor
                hlc = head.clock
            }
            id = .generated(node: node, wall: hlc.wall, logical: hlc.logical)
        }
        let version = try advanceStream(item.stream, to: seq)
        let parts = Record.Parts(seq: seq, id: id, time: item.time ?? now, hlc: hlc, node: node, version: version,
                                 prev: head.hash, appender: item.parts)
        let hash = Record.encode(parts, hasher: hasher, into: &record)
        var key = seq.bigEndian
        try withUnsafeBytes(of: &key) { key in
            try record.withBytes { _ = try self.txn.put(self.txn.dbs.events, key, $0, flags: MDB_APPEND) }
        }
        head.seq = seq
        head.hash = hash
        return seq
    }

    /// Puts `key` → `seq` (as its 8-byte big-endian key form) in `dbi`; false when `flags`
    /// forbid overwriting and the key is there.
    private func put(_ dbi: MDB_dbi, _ key: UnsafeRawBufferPointer, seq: UInt64, flags: Int32 = 0) throws -> Bool {
        var value = seq.bigEndian
        return try withUnsafeBytes(of: &value) { try txn.put(dbi, key, $0, flags: flags) }
    }

    /// The stream's next version, recorded as written at `seq`. The stream's entry is found
    /// once per event (the optional subscript's in-place access), and the tail asked only on
    /// the stream's first event in this transaction.
    private mutating func advanceStream(_ stream: String, to seq: UInt64) throws -> UInt64 {
        let tail = self.tail, txn = self.txn
        return try Self.advance(&written[stream], to: seq) { try tail.head(of: stream, in: txn) }
    }

    private static func advance(_ entry: inout StreamTail.StreamHead?, to seq: UInt64,
                                current: () throws -> StreamTail.StreamHead) throws -> UInt64 {
        let version = (try entry ?? current()).version + 1
        entry = (version, seq)
        return version
    }
}
