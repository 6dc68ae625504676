import EventStore
import Replication
import Testing
import TestKit

@Suite("Replication semantics: exact values per strategy")
struct SemanticsTests {
    @Test("version vectors compare as before, after, equal or concurrent")
    func vectors() {
        let a = VersionVector(["a": 2, "b": 1]), b = VersionVector(["a": 2, "b": 3]), c = VersionVector(["a": 3])
        #expect(a.compare(b) == .before)
        #expect(b.compare(a) == .after)
        #expect(a.compare(VersionVector(["b": 1, "a": 2, "z": 0])) == .equal)
        #expect(b.compare(c) == .concurrent)
        #expect(a.contains(Dot(replica: "a", counter: 2)) && !a.contains(Dot(replica: "a", counter: 3)))
        #expect(b.meeting(c) == VersionVector(["a": 2]) && b.merging(c) == VersionVector(["a": 3, "b": 3]))
    }

    @Test("last_write_wins: the later clock wins concurrent writes, on both sides")
    func lastWriteWins() throws {
        let clockA = ManualClock(Timestamp(seconds: 1_795_000_000)), clockB = ManualClock(Timestamp(seconds: 1_795_000_005))
        let a = memoryReplica("a", clock: clockA), b = memoryReplica("b", clock: clockB)
        try a.put(key: "primary", value: "eu-west")
        try b.put(key: "primary", value: "us-east")
        try syncAll([a, b])
        #expect(try a.strings("primary") == ["us-east"] && b.strings("primary") == ["us-east"])
        // A causally later write wins even with an earlier wall clock: the clock moved past b's.
        try a.put(key: "primary", value: "ap-south")
        try syncAll([a, b])
        #expect(try b.strings("primary") == ["ap-south"])
    }

    @Test("vector_clock: a causally later write replaces; concurrent writes resolve by clock and record a crdt.conflict with the losing value")
    func vectorClock() throws {
        let clockB = ManualClock(Timestamp(seconds: 1_795_000_009))
        let a = memoryReplica("a"), b = memoryReplica("b", clock: clockB)
        try a.put(key: "threshold", value: 5, strategy: .vectorClock)
        try syncAll([a, b])
        try b.put(key: "threshold", value: 6)
        try syncAll([a, b])
        #expect(try a.values(key: "threshold") == [6])
        #expect(try a.state().conflictsRecorded == 0)
        try a.put(key: "threshold", value: 7)
        clockB.advance(nanoseconds: 1_000_000_000)
        try b.put(key: "threshold", value: 8)
        try syncAll([a, b])
        #expect(try a.values(key: "threshold") == [8] && b.values(key: "threshold") == [8])
        let log = try #require(a.log as? MemoryLog)
        let conflict = try #require(log.events.last { $0.type == ReplicationEvent.conflict })
        #expect(conflict.data["values"] == [7])
        #expect(conflict.data["key"] == "threshold")
    }

    @Test("merge_all keeps every concurrent value until a causally later write replaces them")
    func mergeAll() throws {
        let a = memoryReplica("a"), b = memoryReplica("b"), c = memoryReplica("c")
        try a.put(key: "note", value: "from a", strategy: .mergeAll)
        try b.put(key: "note", value: "from b", strategy: .mergeAll)
        try c.put(key: "note", value: "from c", strategy: .mergeAll)
        try syncAll([a, b, c])
        #expect(try b.strings("note") == ["from a", "from b", "from c"])
        try b.put(key: "note", value: "merged")
        try syncAll([a, b, c])
        #expect(try a.strings("note") == ["merged"] && c.strings("note") == ["merged"])
    }

    @Test("manual: concurrent values are an open conflict; a plain write is refused; a resolve settles it; a resolve racing a new write leaves a conflict holding the new value")
    func manual() throws {
        let a = memoryReplica("a"), b = memoryReplica("b")
        try a.put(key: "region", value: "eu", strategy: .manual)
        try b.put(key: "region", value: "us", strategy: .manual)
        try syncAll([a, b])
        #expect(try a.strings("region") == ["eu", "us"])
        #expect(try a.state().entry(map: "default", key: "region")?.hasOpenConflict == true)
        #expect(throws: ReplicationError.self) { try a.put(key: "region", value: "ap") }
        try a.resolve(key: "region", value: "eu")
        try syncAll([a, b])
        #expect(try b.strings("region") == ["eu"])
        #expect(try b.state().entry(map: "default", key: "region")?.hasOpenConflict == false)
        // Open a conflict again, then resolve on a while b writes concurrently.
        try a.put(key: "region", value: "x")
        try b.put(key: "region", value: "y")
        try syncAll([a, b])
        try a.resolve(key: "region", value: "settled")
        try b.resolve(key: "region", value: "late")
        try syncAll([a, b])
        #expect(try a.strings("region") == ["late", "settled"] && b.strings("region") == ["late", "settled"])
        #expect(try a.state().entry(map: "default", key: "region")?.hasOpenConflict == true)
    }

    @Test("add-wins set: a remove takes only the adds it saw; a concurrent add survives")
    func addWinsSet() throws {
        let a = memoryReplica("a"), b = memoryReplica("b")
        try a.add(set: "quarantine", element: "node-7")
        try syncAll([a, b])
        try a.remove(set: "quarantine", element: "node-7")
        try b.add(set: "quarantine", element: "node-7")
        try syncAll([a, b])
        #expect(try a.strings("quarantine") == ["node-7"] && b.strings("quarantine") == ["node-7"])
        try b.remove(set: "quarantine", element: "node-7")
        try syncAll([a, b])
        #expect(try a.strings("quarantine") == [])
    }

    @Test("PN-counter: duplicated and reordered deliveries count each operation once")
    func counter() throws {
        let a = memoryReplica("a"), b = memoryReplica("b")
        for amount: Int64 in [5, -2, 10, -1] { try a.increment(counter: "restarts", by: amount) }
        try b.increment(counter: "restarts", by: 100)
        let response = try a.respond(to: b.syncRequest())
        var shuffled = response
        shuffled.operations.reverse()
        try b.receive(shuffled)
        try b.receive(response)
        try b.receive(shuffled)
        try syncAll([a, b])
        #expect(try a.values(key: "restarts") == [112] && b.values(key: "restarts") == [112])
        #expect(throws: ReplicationError.self) { try a.increment(counter: "restarts", by: Int64.max) }
    }

    @Test("a key's strategy is fixed by its first write: another is a typed error locally and from a peer")
    func strategyFixed() throws {
        let a = memoryReplica("a"), b = memoryReplica("b")
        try a.put(key: "k", value: 1, strategy: .mergeAll)
        #expect(throws: ReplicationError.strategyConflict(map: "default", key: "k", existing: .mergeAll, attempted: .lastWriteWins)) {
            try a.put(key: "k", value: 2, strategy: .lastWriteWins)
        }
        try b.put(key: "k", value: 3, strategy: .manual)
        let before = try b.state()
        #expect(throws: ReplicationError.self) { try pull(b, from: a) }
        #expect(try b.state() == before)
        // After a delete that covers it, a key may start again with another strategy.
        try a.delete(key: "k")
        try a.put(key: "k", value: 4, strategy: .lastWriteWins)
        #expect(try a.values(key: "k") == [4])
    }
}

