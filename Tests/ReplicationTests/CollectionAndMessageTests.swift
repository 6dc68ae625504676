import EventStore
import Foundation
import Projections
import Replication
import Testing
import TestKit

@Suite("Replication: garbage collection and refused messages")
struct CollectionAndMessageTests {
    /// Three members admitted by a, with some churn and a full sync round.
    func group() throws -> [Replica] {
        let a = memoryReplica("a"), b = memoryReplica("b"), c = memoryReplica("c")
        try a.put(key: "seed", value: 0)
        try pull(b, from: a)
        try pull(c, from: a)
        for i in 0..<20 {
            try a.put(key: "k\(i)", value: .int(Int64(i)), strategy: .mergeAll)
            try b.add(set: "quarantine", element: .string("n\(i % 3)"))
        }
        for i in 0..<10 { try a.delete(key: "k\(i)") }
        try syncAll([a, b, c])
        return [a, b, c]
    }

    @Test("collection removes stable tombstones and compacts dots without changing what readers see; a lagging replica converges after the others collected")
    func collectionKeepsVisibleState() throws {
        let replicas = try group()
        let (a, b, c) = (replicas[0], replicas[1], replicas[2])
        try a.put(key: "late", value: "x", strategy: .mergeAll)
        try pull(b, from: a)
        try pull(a, from: b)
        let before = try a.state()
        // c lags: it has not acknowledged `late`, so a collects only what c had seen.
        let collected = try #require(try a.collectGarbage())
        #expect(collected.tombstones == 10)
        #expect(try a.state().digest == before.digest)
        #expect(try a.state().entry(map: "default", key: "k0") == nil)
        #expect(try a.state().stability(of: "a").blockers["c"]?.contains("has seen") == true)
        try pull(c, from: a)
        #expect(try c.state().digest == a.state().digest)
        try syncAll(replicas)
        for replica in replicas { try replica.collectGarbage() }
        #expect(Set(try replicas.map { try $0.state().digest }).count == 1)
        let log = try #require(a.log as? MemoryLog)
        let gc = try #require(log.events.last { $0.type == ReplicationEvent.gc })
        #expect(gc.data["tombstones_removed"] != nil && gc.data["stable_vv"] != nil)
    }

    @Test("a silent member blocks collection until decommissioned; when it returns it is refused and cannot resurrect collected data")
    func silentMember() throws {
        let replicas = try group()
        let (a, b, c) = (replicas[0], replicas[1], replicas[2])
        // c goes silent holding a stale copy of k10, then a deletes k10 everywhere else.
        try a.delete(key: "k10")
        try pull(b, from: a)
        try pull(a, from: b)
        let blocked = try a.state().stability(of: "a")
        #expect(blocked.blockers["c"] != nil)
        #expect(blocked.frontier[a.id] < (try a.state().vector[a.id]))
        try a.decommission("c")
        try pull(b, from: a)
        try pull(a, from: b)
        let collected = try #require(try a.collectGarbage())
        #expect(collected.tombstones >= 11)
        #expect(try a.state().stability(of: "a").blockers.isEmpty)
        let after = try a.state()
        // c comes back and writes k10 again: a refuses everything from it.
        try? c.put(key: "k10", value: "resurrected", strategy: .mergeAll)
        #expect(throws: ReplicationError.decommissioned(replica: "c")) { try pull(a, from: c) }
        #expect(try a.state() == after)
        // c learns it was decommissioned and cannot write any more.
        try pull(c, from: b)
        #expect(throws: ReplicationError.decommissioned(replica: "c")) { try c.put(key: "x", value: 1) }
    }

    @Test("bad messages of every kind are typed errors and leave the store unchanged (head seq and digest)", arguments: BadMessage.allCases)
    func badMessages(_ kind: BadMessage) throws {
        let directory = TemporaryDirectory()
        func replica(_ id: String) throws -> (Replica, EventStore) {
            var options = StoreOptions()
            options.replicaID = id
            options.clock = ManualClock(Timestamp(seconds: 1_795_000_000))
            let store = try EventStore.open(at: directory.store(id), options: options)
            return (Replica(log: try StoreLog(store: store), bufferLimit: 4), store)
        }
        let (a, storeA) = try replica("a"), (b, storeB) = try replica("b")
        defer { storeA.close(); storeB.close() }
        try a.put(key: "k", value: 1, strategy: .mergeAll)
        try pull(b, from: a)
        for i in 0..<8 { try a.put(key: "k", value: .int(Int64(i))) }
        try b.put(key: "other", value: 1, strategy: .manual)
        var response = try a.respond(to: b.syncRequest())
        var bytes = SyncCoding.encode(response)
        var json: String?
        switch kind {
        case .truncated: bytes.removeLast(3)
        case .garbage: bytes = Array("not a sync message".utf8)
        case .wrongVersion: bytes[4] = 9
        case .trailingBytes: bytes += [0]
        case .oversize: bytes = SyncCoding.magic + [1, 2] + [UInt8](repeating: 0, count: SyncLimits.maximumMessageBytes)
        case .forgedDot:
            response.operations[0].dot.counter = 99
            response.operations[0].deps = VersionVector(response.operations[0].deps.counters.merging(["a": 98]) { _, n in n })
            bytes = SyncCoding.encode(response)
        case .otherStrategy:
            response.operations[0].map = "default"
            response.operations[0].key = "other"
            bytes = SyncCoding.encode(response)
        case .farFuture:
            response.operations[0].hlc.wall += 3_600_000_000
            bytes = SyncCoding.encode(response)
        case .bufferOverflow:
            response.operations.removeFirst()
            bytes = SyncCoding.encode(response)
        case .badJSON:
            json = SyncJSON.encode(response).replacingOccurrences(of: "\"version\":1", with: "\"version\":2")
        }
        let head = try storeB.head().seq
        let digest = try b.state().digest
        #expect(throws: ReplicationError.self) {
            let message = try json.map { try SyncJSON.decodeResponse(Array($0.utf8)) } ?? SyncCoding.decodeResponse(bytes)
            try b.receive(message)
        }
        #expect(try storeB.head().seq == head)
        #expect(try b.state().digest == digest)
        // The good message still applies afterwards.
        try pull(b, from: a)
        #expect(try b.values(key: "k") == [7])
    }

    enum BadMessage: String, CaseIterable, CustomTestStringConvertible {
        case truncated, garbage, wrongVersion, trailingBytes, oversize, forgedDot, otherStrategy, farFuture, bufferOverflow, badJSON
        var testDescription: String { rawValue }
    }

    @Test("messages round-trip through both encodings; a 1M-op backlog would go in pages")
    func encodings() throws {
        let a = memoryReplica("a"), b = memoryReplica("b")
        try a.put(key: "nested", value: ["list": [1, 2.5, "x", nil, true], "map": ["k": "v"]], strategy: .manual)
        try a.add(set: "s", element: ["node": "n1"])
        try a.increment(counter: "c", by: -3)
        try a.put(key: "nested", value: .null)
        let response = try a.respond(to: b.syncRequest())
        #expect(try SyncCoding.decodeResponse(SyncCoding.encode(response)) == response)
        #expect(try SyncJSON.decodeResponse(Array(SyncJSON.encode(response).utf8)) == response)
        let request = try b.syncRequest()
        #expect(try SyncCoding.decodeRequest(SyncCoding.encode(request)) == request)
        #expect(try SyncJSON.decodeRequest(Array(SyncJSON.encode(request).utf8)) == request)
        let page = try a.respond(to: b.syncRequest(), limit: 2)
        #expect(page.operations.count == 2 && page.more)
    }

    @Test("the replicated-state projection passes the determinism check")
    func determinism() throws {
        let report = try DeterminismCheck.run(ReplicatedStateProjection(), seed: 21, events: 1_500) { rng, n in
            // One replica's own operations, in order, as its log holds them.
            let kind = rng.next() % 4
            let dot = Dot(replica: "r", counter: UInt64(n + 1))
            let deps = VersionVector(["r": UInt64(n)])
            let key = "k\(rng.next() % 7)"
            let op: ReplicatedOperation
            switch kind {
            case 0: op = ReplicatedOperation(dot: dot, deps: deps, kind: .add, map: "m", key: "set", value: .string("e\(rng.next() % 5)"), strategy: .addWinsSet, hlc: .zero, time: Timestamp(nanoseconds: 0), node: "n")
            case 1: op = ReplicatedOperation(dot: dot, deps: deps, kind: .increment, map: "m", key: "counter", value: .int(Int64(rng.next() % 9) - 4), strategy: .pnCounter, hlc: .zero, time: Timestamp(nanoseconds: 0), node: "n")
            default: op = ReplicatedOperation(dot: dot, deps: deps, kind: .set, map: "m", key: key, value: .int(Int64(n)), strategy: .mergeAll, hlc: .zero, time: Timestamp(nanoseconds: 0), node: "n")
            }
            var event = op.newEvent
            event.hlc = nil
            event.time = nil
            return event
        }
        #expect(report.disagreements.isEmpty)
    }
}
