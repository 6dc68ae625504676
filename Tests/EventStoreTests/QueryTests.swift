import Testing
@testable import EventStore

@Suite("Queries: every filter is exact at every index checkpoint")
struct QueryTests {
    /// A log with a few hundred varied events, appended in batches; times advance per batch.
    static func populate(_ store: EventStore, clock: ManualClock, count: Int, seed: UInt64) throws -> [Event] {
        var rng = SplitMix64(seed: seed)
        var batch: [NewEvent] = []
        for n in 0..<count {
            var e = NewEvent(type: "type.\(rng.next() % 4)", stream: "stream/\(rng.next() % 9)", data: ["n": .int(Int64(n))],
                             tags: rng.next() % 2 == 0 ? ["service": "svc\(rng.next() % 3)"] : [:])
            e.node = "node-\(rng.next() % 3)"
            e.correlation = rng.next() % 3 == 0 ? "inc-\(rng.next() % 2)" : nil
            if rng.next() % 10 == 0 { e.time = Timestamp(seconds: 1_795_000_000 - Int64(rng.next() % 100)) } // out of time order
            batch.append(e)
            if batch.count == 17 {
                _ = try store.appendBlocking(batch)
                batch = []
                clock.advance(nanoseconds: 1_000_000_000)
            }
        }
        if !batch.isEmpty { _ = try store.appendBlocking(batch) }
        return try store.read().collect()
    }

    static func queries(from all: [Event]) -> [EventQuery] {
        let mid = all[all.count / 2].time
        let late = all[all.count * 3 / 4].time
        return [
            EventQuery(), EventQuery(reverse: true), EventQuery(stream: "stream/3"), EventQuery(stream: "stream/3", fromVersion: 5),
            EventQuery(stream: "stream/3", reverse: true), EventQuery(type: "type.1"), EventQuery(type: "type.1", reverse: true),
            EventQuery(node: "node-2"), EventQuery(correlation: "inc-1"), EventQuery(tags: ["service": "svc1"]),
            EventQuery(type: "type.2", node: "node-0", tags: ["service": "svc0"]),
            EventQuery(type: "type.0", fromSeq: 40, toSeq: 160), EventQuery(type: "type.0", fromSeq: 40, toSeq: 160, reverse: true),
            EventQuery(fromSeq: 10, toSeq: 20), EventQuery(fromSeq: 10, toSeq: 20, reverse: true),
            EventQuery(type: "type.3", since: mid, until: late), EventQuery(since: mid, until: late),
            EventQuery(since: mid, until: late, reverse: true), EventQuery(since: mid), EventQuery(until: mid),
            EventQuery(type: "type.1", limit: 5), EventQuery(limit: 7, reverse: true), EventQuery(type: "nope"),
            EventQuery(fromSeq: 100_000),
        ]
    }

    /// A store whose indexes move only when a test moves them, `batchSize` events at a time.
    static func indexedByHand(_ dir: TemporaryDirectory, _ clock: ManualClock, batchSize: Int) throws -> EventStore {
        try makeStore(dir, clock: clock) { $0.indexesInBackground = false; $0.indexBatchSize = batchSize }
    }

    /// The expected answer: a brute-force filter, ordered as EventQuery documents.
    static func expected(_ q: EventQuery, _ all: [Event]) -> [Event] {
        var out = all.filter(q.matches)
        let timeDriven = q.stream == nil && q.type == nil && q.node == nil && q.correlation == nil && q.tags.isEmpty
            && (q.since != nil || q.until != nil)
        if timeDriven { out.sort { ($0.time, $0.seq) < ($1.time, $1.seq) } }
        if q.reverse { out.reverse() }
        if let limit = q.limit { out = Array(out.prefix(limit)) }
        return out
    }

    @Test("results equal a brute-force filter with no index, a partial index and a full index")
    func exactAtEveryCheckpoint() throws {
        let dir = TemporaryDirectory(), clock = ManualClock(Timestamp(seconds: 1_795_000_000))
        let store = try Self.indexedByHand(dir, clock, batchSize: 97)
        defer { store.close() }
        let all = try Self.populate(store, clock: clock, count: 600, seed: 42)
        let queries = Self.queries(from: all)
        for stage in 0..<3 {
            if stage == 1 { _ = try IndexBuilder.step(env: store.env, limit: 250) }
            if stage == 2 { try store.reindex() }
            let checkpoint = try store.indexCheckpoint()
            #expect(checkpoint == [0, 250, 600][stage])
            for q in queries {
                let got = try store.query(q).collect().map(\.seq)
                #expect(got == Self.expected(q, all).map(\.seq), "query \(q) at checkpoint \(checkpoint)")
            }
        }
        #expect(try store.verify().ok)
    }

    @Test("indexing again over entries already written (a checkpoint moved back) adds none twice and misses none")
    func reindexOverExistingEntries() throws {
        let dir = TemporaryDirectory(), clock = ManualClock(Timestamp(seconds: 1_795_000_000))
        // Batches of 140 from 100: the one of 381...520 holds entries already written and new ones.
        let store = try Self.indexedByHand(dir, clock, batchSize: 140)
        defer { store.close() }
        _ = try Self.populate(store, clock: clock, count: 400, seed: 7)
        try store.reindex()
        // As after a crash between an index batch and its checkpoint: the entries of 101...400
        // are in the indexes, the checkpoint says 100. More events come after them.
        _ = try store.env.write { txn in try txn.put(txn.dbs.checkpoints, IndexBuilder.checkpointKey, Key.seq(100)) }
        _ = try Self.populate(store, clock: clock, count: 200, seed: 8)
        try store.reindex()
        #expect(try store.indexCheckpoint() == 600)
        let all = try store.read().collect()
        for q in Self.queries(from: all) {
            #expect(try store.query(q).collect().map(\.seq) == Self.expected(q, all).map(\.seq), "query \(q)")
        }
        let report = try store.verify()
        #expect(report.ok, "\(report.problems)")
    }

    @Test("the indexer follows a burst in batches, appends wait when the tail reaches its bound, and close indexes the rest")
    func indexerKeepsUp() throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 1_795_000_000))
        let store = try makeStore(dir, clock: clock) { $0.indexBatchSize = 100; $0.maximumIndexLag = 300 }
        var batches = 0
        for n in 0..<60 {
            _ = try store.appendBlocking((0..<50).map { k in event("type.\(k % 3)", stream: "stream/\((n + k) % 7)") })
            // The writer commits, then waits while the tail is longer than the bound: an append
            // never finds more than the bound plus the batch just committed unindexed.
            let lag = try store.head().seq - store.indexCheckpoint()
            #expect(lag <= 300 + 50)
            batches = store.metrics.indexBatches
        }
        #expect(batches > 0)
        let all = try store.read().collect()
        store.close()
        // Closing indexes the tail, so another process finds the indexes complete.
        let reopened = try makeStore(dir, clock: clock)
        defer { reopened.close() }
        #expect(try reopened.indexCheckpoint() == 3000)
        #expect(try reopened.query(EventQuery(type: "type.1")).collect() == all.filter { $0.type == "type.1" })
        #expect(try reopened.verify().ok)
    }

    @Test("a corrupt record stops the indexer, not the writer: appends go on, close returns, verify names the record")
    func corruptRecordDoesNotBlockAppends() throws {
        let dir = TemporaryDirectory()
        do {
            let store = try makeStore(dir) { $0.indexesInBackground = false }
            _ = try store.appendBlocking((0..<10).map { _ in event() })
            try store.env.write { txn in
                guard var record = try txn.get(txn.dbs.events, Key.seq(5)) else { return }
                record[0] = 9  // an unknown record format: the indexer cannot decode it
                try txn.put(txn.dbs.events, Key.seq(5), record)
            }
            store.close()
        }
        let store = try makeStore(dir) { $0.indexBatchSize = 100; $0.maximumIndexLag = 200 }
        // Far more than the lag bound: with a working indexer the writer would wait for it.
        for _ in 0..<20 { _ = try store.appendBlocking((0..<50).map { _ in event() }) }
        #expect(try store.head().seq == 1_010)
        #expect(try store.indexCheckpoint() < 5)
        store.close()
        let report = try makeStore(dir).verify()
        #expect(!report.ok && report.firstBadSeq == 5)
    }

    @Test("iteration is lazy: a sequence reads in chunks, each in its own short transaction")
    func lazyIteration() throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 1_795_000_000))
        let store = try makeStore(dir, clock: clock)
        defer { store.close() }
        _ = try Self.populate(store, clock: clock, count: 2000, seed: 7)
        let iterator = store.read().makeIterator()
        var n: UInt64 = 0
        // Appends between chunks do not disturb a running iteration (a snapshot of the first read).
        while let e = try iterator.next() {
            n += 1
            #expect(e.seq == n)
            if n == 300 { _ = try store.appendBlocking([event()]) }
        }
        #expect(n == 2000)
    }
}

