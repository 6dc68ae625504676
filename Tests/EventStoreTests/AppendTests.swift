import Testing
@testable import EventStore

@Suite("Appending: positions, ids, optimistic concurrency, the hybrid logical clock")
struct AppendTests {
    @Test("a batch gets dense positions, stream versions and a hash chain")
    func positionsAndChain() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        let first = try await store.append([event(stream: "a"), event(stream: "b"), event(stream: "a")])
        #expect(first.positions == [1, 2, 3])
        let events = try store.read().collect()
        #expect(events.map(\.version) == [1, 1, 2])
        #expect(events[0].prev == .zero)
        #expect(events[1].prev == events[0].hash)
        #expect(events[2].prev == events[1].hash)
        #expect(try store.streamVersion("a") == 2)
        #expect(events.allSatisfy { $0.node == "node-t" && $0.id.hasPrefix("node-t:") })
    }

    @Test("a retried append with the same ids writes nothing and returns the first positions")
    func idempotentRetry() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        let batch = [event(id: "x-1"), event(id: "x-2")]
        let first = try await store.append(batch)
        let retry = try await store.append(batch)
        #expect(retry.positions == first.positions)
        #expect(retry.written == 0)
        // A batch mixing old and new ids writes only the new ones; a repeated id inside a batch once.
        let mixed = try await store.append([event(id: "x-2"), event(id: "x-3"), event(id: "x-3")])
        #expect(mixed.positions == [2, 3, 3])
        #expect(mixed.written == 1)
        #expect(try store.head().seq == 3)
    }

    @Test("a version mismatch fails only that batch and writes nothing of it")
    func optimisticConcurrency() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try await store.append([event(stream: "orders")], expecting: ["orders": .noStream])
        await #expect(throws: StoreError.conflict(stream: "orders", expected: .noStream, actual: 1)) {
            try await store.append([event(stream: "orders"), event(stream: "other")], expecting: ["orders": .noStream])
        }
        #expect(try store.head().seq == 1)
        #expect(try store.streamVersion("other") == 0)
        let ok = try await store.append([event(stream: "orders")], expecting: ["orders": .exactly(1)])
        #expect(ok.positions == [2])
    }

    @Test("invalid events are refused before anything is written")
    func validation() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        let cases: [NewEvent] = [
            NewEvent(type: "", stream: "s"), NewEvent(type: "t", stream: "a\u{0}b"),
            NewEvent(type: "t", stream: "s", data: .array([])), NewEvent(type: "t", stream: "s", data: ["x": .double(.nan)]),
            NewEvent(type: "t", stream: "s", tags: ["a=b": "c"]),
        ]
        for bad in cases {
            await #expect(throws: StoreError.self) { try await store.append([event(), bad]) }
        }
        #expect(try store.head().seq == 0)
    }

    @Test("a large batch names its first refused event, with the path inside the payload, and writes nothing")
    func largeBatchValidation() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        var events = (0..<2_000).map { n in
            NewEvent(type: "t", stream: "s-\(n % 7)", data: ["n": .int(Int64(n)), "deep": ["list": [1.5, .double(Double(n))]]],
                     tags: ["k": "v\(n % 3)"])
        }
        events[1_700].data = ["deep": ["list": [1.5, .double(.infinity)]]]
        events[1_900].type = ""
        func refusal(_ events: [NewEvent]) async -> (index: Int, field: String)? {
            let error = await #expect(throws: StoreError.self) { try await store.append(events) }
            guard case .invalidEvent(let index, let field, _)? = error else { return nil }
            return (index, field)
        }
        let first = await refusal(events)
        #expect(first?.index == 1_700)
        #expect(first?.field == "data.deep.list[1]")
        events[1_700].data = [:]
        let second = await refusal(events)
        #expect(second?.index == 1_900)
        #expect(second?.field == "type")
        #expect(try store.head().seq == 0)
        events[1_900].type = "t"
        let written = try await store.append(events)
        #expect(written.positions == Array(1...2_000))
        #expect(try store.verify().ok)
        let stored = try store.read(from: 1_700, to: 1_702).collect().map(\.data)
        #expect(stored == [events[1_699].data, [:], events[1_701].data])
    }

    @Test("the clock stays monotonic when the wall clock jumps backwards")
    func clockBackwards() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 2_000_000_000))
        let store = try makeStore(dir, clock: clock)
        defer { store.close() }
        _ = try await store.append([event(), event()])
        clock.advance(nanoseconds: -3_600_000_000_000)
        _ = try await store.append([event()])
        clock.advance(nanoseconds: 7_200_000_000_000)
        _ = try await store.append([event()])
        let hlcs = try store.read().collect().map(\.hlc)
        #expect(hlcs == hlcs.sorted())
        #expect(Set(hlcs).count == hlcs.count)
        #expect(hlcs[2].wall == hlcs[1].wall && hlcs[2].logical == hlcs[1].logical + 1)
        #expect(hlcs[3].wall == Timestamp(seconds: 2_000_003_600).microseconds)
    }

    @Test("a remote timestamp advances the clock; one too far ahead is refused")
    func remoteTimestamps() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 2_000_000_000))
        let store = try makeStore(dir, clock: clock)
        defer { store.close() }
        let now = clock.now().microseconds
        var remote = event(id: "peer:1")
        remote.hlc = HLC(wall: now + 30_000_000, logical: 4)
        remote.node = "peer"
        _ = try await store.append([remote])
        _ = try await store.append([event()])
        let events = try store.read().collect()
        #expect(events[0].hlc == HLC(wall: now + 30_000_000, logical: 4))
        #expect(events[0].node == "peer")
        #expect(events[1].hlc == HLC(wall: now + 30_000_000, logical: 5))
        var future = event(id: "peer:2")
        future.hlc = HLC(wall: now + 61_000_000, logical: 0)
        await #expect(throws: StoreError.self) { try await store.append([future]) }
        #expect(try store.head().seq == 2)
    }

    @Test("a generated id never reuses one already held: imported ids from a later clock and with the same clock and node")
    func generatedIdsAroundImportedOnes() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 2_000_000_000))
        let store = try makeStore(dir, clock: clock)
        defer { store.close() }
        let now = clock.now().microseconds
        // Ids in the generated form, as another store of the same node name would have made
        // them: one far later, and the exact text of the next id this store will generate (the
        // two imported events take clock values (now, 0) and (now, 1) themselves).
        _ = try await store.append([event(id: "node-t:\(now + 5_000_000):0"), event(id: "node-t:\(now):2")])
        let local = try await store.append([event(), event()])
        #expect(local.written == 2 && local.positions == [3, 4])
        let ids = try store.read().collect().map(\.id)
        #expect(ids[2] == "node-t:\(now):3", "moved past the imported id")
        #expect(ids[3] == "node-t:\(now):4")
        #expect(Set(ids).count == 4)
        // Each stored id finds its own event again (the ids index is exact).
        let resent = try await store.append(ids.map { event(id: $0) })
        #expect(resent.written == 0 && resent.positions == [1, 2, 3, 4])
        #expect(try store.verify().ok)
    }

    @Test("the clock continues across processes and restarts from the log's head")
    func clockAcrossReopen() async throws {
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: 2_000_000_000))
        do {
            let store = try makeStore(dir, clock: clock)
            _ = try await store.append([event(), event()])
            store.close()
        }
        clock.advance(nanoseconds: -10_000_000_000)
        let reopened = try makeStore(dir, clock: clock)
        defer { reopened.close() }
        _ = try await reopened.append([event()])
        let hlcs = try reopened.read().collect().map(\.hlc)
        #expect(hlcs[2] > hlcs[1])
    }

    @Test("in-process followers receive events as they commit")
    func follow() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try await store.append([event()])
        let stream = store.follow(after: 0)
        let reader = Task { () -> [UInt64] in
            var seen: [UInt64] = []
            for try await e in stream {
                seen.append(e.seq)
                if seen.count == 4 { break }
            }
            return seen
        }
        _ = try await store.append([event(), event()])
        _ = try await store.append([event()])
        #expect(try await reader.value == [1, 2, 3, 4])
    }

    @Test("stream heads kept behind the index checkpoint: versions and conflicts exact before indexing, after reopening and after reindexing")
    func streamHeadsBehindCheckpoint() throws {
        let dir = TemporaryDirectory()
        func storedHeads(_ store: EventStore) throws -> Int { try store.env.read { txn in try txn.entryCount(txn.dbs.heads) } }
        do {
            let store = try makeStore(dir) { $0.indexesInBackground = false }
            _ = try store.appendBlocking([event(stream: "s/a"), event(stream: "s/b"), event(stream: "s/a"), event(stream: "s/a"), event(stream: "s/b")])
            // Nothing indexed, so nothing in `heads` yet: the writer's tail knows the versions.
            #expect(try storedHeads(store) == 0)
            #expect(try store.streamVersion("s/a") == 3 && store.streamVersion("s/b") == 2 && store.streamVersion("s/c") == 0)
            _ = try store.appendBlocking([event(stream: "s/a")], expecting: ["s/a": .exactly(3)])
            #expect(throws: StoreError.conflict(stream: "s/a", expected: .exactly(3), actual: 4)) {
                try store.appendBlocking([event(stream: "s/a")], expecting: ["s/a": .exactly(3)])
            }
            #expect(try store.stats().streams == 2)
            store.close()
        }
        // A new writer folds the unindexed log in again.
        let store = try makeStore(dir) { $0.indexesInBackground = false }
        defer { store.close() }
        _ = try store.appendBlocking([event(stream: "s/a")], expecting: ["s/a": .exactly(4)])
        #expect(try store.streamVersion("s/a") == 5)
        try store.reindex()
        #expect(try storedHeads(store) == 2)
        #expect(try store.streamVersion("s/a") == 5 && store.streamVersion("s/b") == 2)
        // After the checkpoint moved: the stored heads and the tail agree.
        _ = try store.appendBlocking([event(stream: "s/b"), event(stream: "s/c")], expecting: ["s/b": .exactly(2), "s/c": .noStream])
        #expect(try store.stats().streams == 3)
        let versions = try store.read().collect().map { "\($0.stream)#\($0.version)" }
        #expect(versions == ["s/a#1", "s/b#1", "s/a#2", "s/a#3", "s/b#2", "s/a#4", "s/a#5", "s/b#3", "s/c#1"])
        #expect(try store.verify().ok)
    }
}
