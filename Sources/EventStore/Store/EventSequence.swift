import CLMDB

/// A lazy sequence of events. Iterating reads the store in chunks, each in its own short read
/// transaction, so memory stays constant and no reader pins old pages for long. Results are a
/// consistent snapshot as of the first read: events appended later are not included.
public struct EventSequence: Sendable {
    let store: EventStore
    let query: EventQuery

    public func makeIterator() -> EventIterator { EventIterator(store: store, query: query) }

    /// Every event, in memory. Prefer iterating for large results.
    public func collect() throws(StoreError) -> [Event] {
        var out: [Event] = []
        try forEach { out.append($0) }
        return out
    }

    public func forEach(_ body: (Event) throws -> Void) throws(StoreError) {
        let iterator = makeIterator()
        while let event = try iterator.next() {
            do { try body(event) } catch let error as StoreError { throw error } catch {
                throw StoreError.io(operation: "reading", code: -1, message: "\(error)")
            }
        }
    }
}

/// Pulls events from an `EventSequence`; `next()` throws on a corrupt record or I/O error.
public final class EventIterator {
    private enum Driver {
        case scan
        case index(dbi: MDB_dbi, key: [UInt8], isStream: Bool)
        case time
    }

    private enum Phase { case start, index, tail, done }

    private let store: EventStore
    private let query: EventQuery
    private var phase = Phase.start
    private var driver = Driver.scan
    private var buffer: [Event] = []
    private var position = 0
    private var yielded = 0
    // The snapshot: bounds fixed at the first read.
    private var low: UInt64 = 1
    private var high: UInt64 = 0
    private var checkpoint: UInt64 = 0
    // Where the current phase resumes.
    private var resumeKey: [UInt8]?
    private var tailNext: UInt64 = 0
    private var tailMatches: [Event] = []
    /// The interner of the read in progress.
    private var interner: StringInterner?
    static let chunkSize = 256

    init(store: EventStore, query: EventQuery) {
        self.store = store
        self.query = query
    }

    public func next() throws(StoreError) -> Event? {
        if let limit = query.limit, yielded >= limit { return nil }
        while position >= buffer.count {
            if phase == .done { return nil }
            buffer.removeAll(keepingCapacity: true)
            position = 0
            // Names and payload keys through one of the store's interners, kept between reads.
            try store.storeCall {
                try store.interners.withInterner { interner in
                    self.interner = interner
                    defer { self.interner = nil }
                    try store.env.read { txn in try fill(txn) }
                }
            }
        }
        defer { position += 1; yielded += 1 }
        return buffer[position]
    }

    private func fill(_ txn: Transaction) throws {
        switch phase {
        case .start: try plan(txn)
        case .index: try fillIndex(txn)
        case .tail: try fillTail(txn)
        case .done: return
        }
    }

    private func plan(_ txn: Transaction) throws {
        let head = try Head.load(txn).seq
        checkpoint = min(try IndexBuilder.checkpoint(txn), head)
        low = max(1, query.fromSeq ?? 1)
        high = min(head, query.toSeq ?? head)
        guard low <= high else { phase = .done; return }
        var best: (dbi: MDB_dbi, key: [UInt8], isStream: Bool, count: Int)?
        for candidate in query.indexCandidates(txn.dbs) {
            let count = try duplicateCount(txn, candidate.dbi, candidate.key)
            if count < (best?.count ?? .max) { best = (candidate.dbi, candidate.key, candidate.isStream, count) }
        }
        if let best {
            driver = .index(dbi: best.dbi, key: best.key, isStream: best.isStream)
        } else if query.since != nil || query.until != nil {
            driver = .time
            try collectTimeTail(txn)
        } else {
            driver = .scan
        }
        switch driver {
        case .scan:
            startTail(from: low)
        case .index, .time:
            if query.reverse, case .index = driver { startTail(from: max(low, checkpoint + 1)) } else { phase = .index }
        }
        try fill(txn)
    }

    private func duplicateCount(_ txn: Transaction, _ dbi: MDB_dbi, _ key: [UInt8]) throws -> Int {
        let cursor = try txn.cursor(dbi)
        defer { cursor.close() }
        guard try cursor.get(MDB_SET, key: key) != nil else { return 0 }
        return try cursor.duplicateCount()
    }

    /// The unindexed tail: forward it runs from `max(low, checkpoint+1)` (or `low` for a scan) up
    /// to `high`; backward from `high` down.
    private func startTail(from start: UInt64) {
        phase = .tail
        tailNext = query.reverse ? high : start
    }

    private var tailLowerBound: UInt64 {
        if case .scan = driver { return low }
        return max(low, checkpoint + 1)
    }

    private func fillTail(_ txn: Transaction) throws {
        let lower = tailLowerBound
        if query.reverse ? (tailNext < lower || tailNext == 0) : tailNext > high {
            return finishTail()
        }
        let cursor = try txn.cursor(txn.dbs.events)
        defer { cursor.close() }
        var entry = try cursor.get(MDB_SET_RANGE, key: Key.seq(tailNext))
        if query.reverse {
            if let landed = entry {
                if try Key.readUInt64(landed.key) > tailNext { entry = try cursor.get(MDB_PREV) }
            } else {
                entry = try cursor.get(MDB_LAST)
            }
        }
        var scanned = 0
        while let current = entry, scanned < EventIterator.chunkSize * 4, buffer.count < EventIterator.chunkSize {
            let seq = try Key.readUInt64(current.key)
            if query.reverse ? seq < lower : seq > high { tailNext = query.reverse ? 0 : high + 1; return finishTail() }
            if let event = try candidate(current.value, seq) { buffer.append(event) }
            scanned += 1
            if query.reverse {
                guard seq > lower else { tailNext = 0; return finishTail() }
                tailNext = seq - 1
                entry = try cursor.get(MDB_PREV)
            } else {
                tailNext = seq + 1
                entry = try cursor.get(MDB_NEXT)
            }
        }
        if entry == nil { finishTail() }
    }

    private func finishTail() {
        if query.reverse, case .index = driver, phase == .tail { phase = .index; resumeKey = nil; return }
        phase = .done
    }

    /// Index phase for equality drivers: duplicates of one key, each ending in a seq.
    private func fillIndex(_ txn: Transaction) throws {
        if case .time = driver { return try fillTimeIndex(txn) }
        guard case .index(let dbi, let key, let isStream) = driver else { phase = .done; return }
        let bound = min(high, checkpoint)
        let cursor = try txn.cursor(dbi)
        defer { cursor.close() }
        var entry: Cursor.Entry?
        if let resume = resumeKey {
            entry = try cursor.get(MDB_GET_BOTH_RANGE, key: key, value: resume)
            if let found = entry, query.reverse || found.value.elementsEqual(resume) {
                entry = try cursor.get(query.reverse ? MDB_PREV_DUP : MDB_NEXT_DUP)
            } else if entry == nil, query.reverse {
                entry = try cursor.get(MDB_SET, key: key).flatMap { _ in try cursor.get(MDB_LAST_DUP) }
            }
        } else if query.reverse {
            entry = try cursor.get(MDB_SET, key: key).flatMap { _ in try cursor.get(MDB_LAST_DUP) }
        } else {
            let seek = isStream ? Key.pair(query.fromVersion ?? 0, 0) : Key.seq(low)
            entry = try cursor.get(MDB_GET_BOTH_RANGE, key: key, value: seek)
        }
        var examined = 0
        while let current = entry, buffer.count < EventIterator.chunkSize, examined < EventIterator.chunkSize * 4 {
            let seq = try Key.readUInt64(current.value, at: current.value.count - 8)
            resumeKey = Array(current.value)
            examined += 1
            if query.reverse {
                if seq < low { return advanceAfterIndex() }
                if seq <= bound, let event = try fetch(txn, seq) { buffer.append(event) }
                entry = try cursor.get(MDB_PREV_DUP)
            } else {
                if seq > bound { return advanceAfterIndex() }
                if seq >= low, let event = try fetch(txn, seq) { buffer.append(event) }
                entry = try cursor.get(MDB_NEXT_DUP)
            }
        }
        if entry == nil { advanceAfterIndex() }
    }

    private func fetch(_ txn: Transaction, _ seq: UInt64) throws -> Event? {
        let key = Key.seq(seq)
        guard let record = try key.withUnsafeBytes({ try txn.get(txn.dbs.events, $0) }) else {
            throw StoreError.corrupt(seq: seq, "an index entry points to a missing record")
        }
        return try candidate(record, seq)
    }

    /// The record's event if it matches the query. The envelope, read in place, rules out most
    /// records of an unindexed tail before their payloads are decoded (which cost about ten
    /// times the envelope).
    private func candidate(_ record: UnsafeRawBufferPointer, _ seq: UInt64) throws(StoreError) -> Event? {
        let view = try Record.view(record, expectedSeq: seq)
        guard query.mayMatch(view) else { return nil }
        let event = try Record.decode(view, interner: interner)
        return query.matches(event) ? event : nil
    }

    private func advanceAfterIndex() {
        if query.reverse { phase = .done; return }
        if case .time = driver { phase = .done; return }
        startTail(from: max(low, checkpoint + 1))
    }

    // MARK: Time-range driver

    private func collectTimeTail(_ txn: Transaction) throws {
        let cursor = try txn.cursor(txn.dbs.events)
        defer { cursor.close() }
        var entry = try cursor.get(MDB_SET_RANGE, key: Key.seq(max(low, checkpoint + 1)))
        while let current = entry {
            let seq = try Key.readUInt64(current.key)
            if seq > high { break }
            if let event = try candidate(current.value, seq) { tailMatches.append(event) }
            entry = try cursor.get(MDB_NEXT)
        }
        tailMatches.sort { ($0.time, $0.seq) < ($1.time, $1.seq) }
        if query.reverse { tailMatches.reverse() }
    }

    private func fillTimeIndex(_ txn: Transaction) throws {
        let lowerKey = Key.time(query.since ?? Timestamp(nanoseconds: .min), 0)
        let upperKey = Key.time(query.until ?? Timestamp(nanoseconds: .max), 0)
        let cursor = try txn.cursor(txn.dbs.time)
        defer { cursor.close() }
        var entry: Cursor.Entry?
        if let resume = resumeKey {
            entry = try cursor.get(MDB_SET_RANGE, key: resume)
            if query.reverse {
                entry = try cursor.get(entry == nil ? MDB_LAST : MDB_PREV)
            } else if let found = entry, found.key.elementsEqual(resume) {
                entry = try cursor.get(MDB_NEXT)
            }
        } else if query.reverse {
            entry = try cursor.get(MDB_SET_RANGE, key: upperKey)
            entry = try cursor.get(entry == nil ? MDB_LAST : MDB_PREV)
        } else {
            entry = try cursor.get(MDB_SET_RANGE, key: lowerKey)
        }
        var examined = 0
        while let current = entry, buffer.count < EventIterator.chunkSize, examined < EventIterator.chunkSize * 4 {
            examined += 1
            resumeKey = Array(current.key)
            let outside = query.reverse ? current.key.lexicographicallyPrecedes(lowerKey)
                                        : !current.key.lexicographicallyPrecedes(upperKey)
            if outside { break }
            let seq = try Key.readUInt64(current.key, at: 8)
            if seq >= low, seq <= min(high, checkpoint), let event = try fetch(txn, seq) {
                flushTail(before: event)
                buffer.append(event)
            }
            entry = try cursor.get(query.reverse ? MDB_PREV : MDB_NEXT)
            if let next = entry,
               query.reverse ? next.key.lexicographicallyPrecedes(lowerKey) : !next.key.lexicographicallyPrecedes(upperKey) {
                entry = nil
            }
        }
        if entry == nil {
            buffer.append(contentsOf: tailMatches)
            tailMatches = []
            phase = .done
        }
    }

    private func flushTail(before event: Event) {
        var taken = 0
        for pending in tailMatches {
            let comesFirst = query.reverse ? (pending.time, pending.seq) > (event.time, event.seq)
                                           : (pending.time, pending.seq) < (event.time, event.seq)
            guard comesFirst else { break }
            buffer.append(pending)
            taken += 1
        }
        tailMatches.removeFirst(taken)
    }
}

extension EventStore {
    /// Events matching `query` (see `EventQuery` for order and ranges).
    public func query(_ query: EventQuery) -> EventSequence { EventSequence(store: self, query: query) }

    /// Events by position: `from...to`, newest first when `reverse`.
    public func read(from: UInt64 = 1, to: UInt64? = nil, reverse: Bool = false) -> EventSequence {
        EventSequence(store: self, query: EventQuery(fromSeq: from, toSeq: to, reverse: reverse))
    }

    /// One stream from `version` on.
    public func read(stream: String, fromVersion version: UInt64 = 1) -> EventSequence {
        EventSequence(store: self, query: EventQuery(stream: stream, fromVersion: version))
    }

    /// The event at `seq`, or nil when there is none; `StoreError.archived` when retention moved
    /// it to an archive.
    public func event(at seq: UInt64) throws(StoreError) -> Event? {
        try storeCall {
            try env.read { txn in
                let key = Key.seq(seq)
                guard let record = try key.withUnsafeBytes({ try txn.get(txn.dbs.events, $0) }) else {
                    if let archived = try ArchiveMarks.error(reading: seq, txn) { throw archived }
                    return nil
                }
                return try Record.decode(record, expectedSeq: seq)
            }
        }
    }

    /// The event with id `id` (the id index is written with each append), nil when none.
    public func event(id: String) throws(StoreError) -> Event? {
        let seq: UInt64? = try storeCall {
            try env.read { txn in try txn.get(txn.dbs.ids, IdKey.make(id)).map { try Key.readUInt64($0) } }
        }
        guard let seq else { return nil }
        return try event(at: seq)
    }

    /// The head version of a stream (0 when it does not exist): the `heads` entry, which the
    /// indexer keeps up to its checkpoint, then the unindexed tail, newest first.
    public func streamVersion(_ stream: String) throws(StoreError) -> UInt64 {
        try storeCall {
            try env.read { txn in
                let head = try Head.load(txn).seq
                let checkpoint = min(head, try IndexBuilder.checkpoint(txn))
                var version: UInt64?
                if head > checkpoint {
                    _ = try txn.walkRecords(from: head, to: checkpoint + 1) { seq, record in
                        let view = try Record.view(record, expectedSeq: seq)
                        if view.stream.matches(stream) { version = view.version }
                        return version == nil
                    }
                }
                return try version ?? StreamTail.stored(stream, in: txn).version
            }
        }
    }

    /// Brings the secondary indexes up to date (a copied or idle store); returns the events indexed.
    @discardableResult
    public func reindex() throws(StoreError) -> Int {
        try storeCall { try IndexBuilder.catchUp(env: env, batch: options.indexBatchSize) }
    }

    /// The index checkpoint: every event up to it is in the secondary indexes.
    public func indexCheckpoint() throws(StoreError) -> UInt64 {
        try storeCall { try env.read { txn in try IndexBuilder.checkpoint(txn) } }
    }

    /// Events from `position + 1` on as they commit in this process, then live. Another process
    /// polls with `read(from:)` instead. The stream ends when the store closes.
    public func follow(after position: UInt64) -> AsyncThrowingStream<Event, Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var next = position + 1
                do {
                    while !Task.isCancelled {
                        for event in try self.read(from: next).collectChunk(limit: 1024) {
                            continuation.yield(event)
                            next = event.seq + 1
                        }
                        let head = try self.head().seq
                        if head >= next { continue }
                        guard await self.headWatch.wait(after: next - 1) != nil else { break }
                    }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}

extension EventSequence {
    func collectChunk(limit: Int) throws(StoreError) -> [Event] {
        var q = query
        q.limit = limit
        return try EventSequence(store: store, query: q).collect()
    }
}
