import Testing
@testable import EventStore

@Suite("Replay scans")
struct ScanTests {
    @Test("scan and scanBackward deliver exactly what the query path decodes, with many long repeated names")
    func scanMatchesQuery() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        // 2,000 distinct long streams and 700 long types: far more than the interner's slots,
        // so collisions and evictions happen all the time.
        var rng = SplitMix64(seed: 77)
        var batch: [NewEvent] = []
        for n in 0..<6_000 {
            var e = NewEvent(type: "type.with.a.long.name.\(rng.next() % 700)", stream: "service/a-long-stream-name-\(rng.next() % 2_000)",
                             data: ["n": .int(Int64(n))])
            e.node = "node-with-a-long-name-\(rng.next() % 40)"
            batch.append(e)
            if batch.count == 1_000 { _ = try store.appendBlocking(batch); batch = [] }
        }
        let expected = try store.read().collect()
        var forward: [Event] = []
        try store.scan { forward.append($0); return true }
        #expect(forward == expected)
        var backward: [Event] = []
        try store.scanBackward { backward.append($0); return true }
        #expect(backward == expected.reversed())
        var envelopes: [Event] = []
        try store.scan(from: 10, through: 20, fields: .envelope) { envelopes.append($0); return true }
        #expect(envelopes.map(\.seq) == Array(10...20))
        #expect(envelopes.map(\.type) == expected[9..<20].map(\.type))
        #expect(envelopes.allSatisfy { $0.data == .map([:]) && $0.id.isEmpty })
        // Stopping early delivers nothing after the stop.
        var seen = 0
        let last = try store.scan { _ in seen += 1; return seen < 5 }
        #expect(seen == 5 && last == 5)
    }

    @Test("a parallel scan delivers the same events in order, stops early, and reports a corrupt record by seq")
    func parallelScan() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        var rng = SplitMix64(seed: 5)
        for _ in 0..<10 {
            _ = try store.appendBlocking((0..<1_000).map { _ in event("t.\(rng.next() % 9)", stream: "s/\(rng.next() % 50)") })
        }
        var sequential: [Event] = []
        try store.scan { sequential.append($0); return true }
        for chunk in [1, 700, 4_096, 20_000] {
            var parallel: [Event] = []
            let last = try store.scanInParallel(chunkSize: chunk) { parallel.append($0); return true }
            #expect(parallel == sequential, "chunks of \(chunk)")
            #expect(last == 10_000)
        }
        var seen = 0
        #expect(try store.scanInParallel(from: 11, chunkSize: 500) { _ in seen += 1; return seen < 2_345 } == 2_355)

        // One damaged record in the middle: the scan fails at it, after delivering what precedes it.
        _ = try store.env.write { txn in try txn.put(txn.dbs.events, Key.seq(6_000), [1, 2, 3]) }
        var delivered: UInt64 = 0
        do {
            try store.scanInParallel(chunkSize: 512) { delivered = $0.seq; return true }
            Issue.record("a corrupt record went unnoticed")
        } catch {
            guard case .corrupt(let seq, _) = error else { Issue.record("\(error)"); return }
            #expect(seq == 6_000)
            #expect(delivered == 5_999)
        }
    }

    @Test("indexes stay exact when times go backwards and keys arrive out of order across batches")
    func indexFallbacks() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir) { $0.indexesInBackground = false }
        defer { store.close() }
        let base = Timestamp(seconds: 1_795_000_000)
        // Batch 1 indexes late times and "z" keys; batch 2 brings earlier times and "a" keys, so
        // the append-at-the-end fast path must fall back to ordinary inserts.
        var first: [NewEvent] = []
        for n in 0..<300 {
            var e = event("z.type", stream: "z/\(n % 7)")
            e.time = base.adding(nanoseconds: Int64(10_000 + n) * 1_000_000)
            first.append(e)
        }
        _ = try store.appendBlocking(first)
        #expect(try store.reindex() == 300)
        var second: [NewEvent] = []
        for n in 0..<300 {
            var e = event(n % 2 == 0 ? "a.type" : "z.type", stream: n % 3 == 0 ? "a/1" : "z/\(n % 7)")
            e.time = base.adding(nanoseconds: Int64(300 - n) * 1_000_000)
            second.append(e)
        }
        _ = try store.appendBlocking(second)
        #expect(try store.reindex() == 300)
        let all = try store.read().collect()
        #expect(try store.query(EventQuery(type: "z.type")).collect() == all.filter { $0.type == "z.type" })
        #expect(try store.query(EventQuery(stream: "a/1")).collect() == all.filter { $0.stream == "a/1" })
        let since = base.adding(nanoseconds: 100_000_000), until = base.adding(nanoseconds: 200_000_000)
        let inRange = try store.query(EventQuery(since: since, until: until)).collect()
        #expect(Set(inRange.map(\.seq)) == Set(all.filter { $0.time >= since && $0.time < until }.map(\.seq)))
        #expect(inRange.count == 100)
        #expect(try store.verify().ok)
    }
}
