import Testing
@testable import EventStore

@Suite("Record formats")
struct FormatTests {
    @Test("a format 1 store (records without a payload length, ids keyed by text) is read, verified, upgraded and appended to")
    func readsFormatOne() throws {
        let dir = TemporaryDirectory()
        var original: [Event] = []
        do {
            let store = try makeStore(dir)
            _ = try store.appendBlocking([event("a", ["n": 1]), event("b", stream: "s/2", ["n": 2.5, "list": [1, "x"]]), event("c")])
            original = try store.read().collect()
            // Rewrite every record in the format 1 layout: [1][hash][canonical].
            try store.env.write { txn in
                for seq: UInt64 in 1...3 {
                    guard let record = try txn.get(txn.dbs.events, Key.seq(seq)) else { throw StoreError.corrupt(seq: seq, "missing") }
                    #expect(record[0] == 2)
                    try txn.put(txn.dbs.events, Key.seq(seq), [1] + record[1..<33] + record[37...])
                }
                // Format 1 and 2 keyed the ids database by the id text.
                try txn.clear(txn.dbs.ids)
                for e in original { try txn.put(txn.dbs.ids, Key.text(e.id), Key.seq(e.seq)) }
                try txn.put(txn.dbs.meta, Key.text("format"), [1])
            }
            store.close()
        }
        let store = try makeStore(dir)
        defer { store.close() }
        #expect(try store.env.read { txn in try txn.get(txn.dbs.meta, Key.text("format")) } == [UInt8(EventStore.formatVersion)])
        #expect(try store.read().collect() == original)
        var envelopes: [String] = []
        try store.scan(fields: .envelope) { envelopes.append($0.type); return true }
        #expect(envelopes == ["a", "b", "c"])
        #expect(try store.verify().ok)
        _ = try store.appendBlocking([event("d")])
        #expect(try store.verify().ok)
        #expect(try store.event(at: 4)?.prev == original[2].hash)
        // The upgrade rebuilt the ids: re-sending an old event is still recognised.
        var resent = event("a", ["n": 1])
        resent.id = original[0].id
        let again = try store.appendBlocking([resent])
        #expect(again.written == 0 && again.positions == [1])
    }

    @Test("ids of the generated form are keyed by clock, any other id by its text, never two ids on one key")
    func idKeys() {
        let generated = IdKey.make("node-7:1795932499123456:3")
        #expect(generated == IdKey.make(node: "node-7", wall: 1_795_932_499_123_456, logical: 3))
        #expect(generated.first == 1)
        // The writer puts generated ids into records as CBOR text without building a String:
        // the same text, with a two-byte length head for long node names.
        for node in ["n", String(repeating: "x", count: 300)] {
            for (wall, logical) in [(Int64(0), UInt32(0)), (1_795_932_499_123_456, 3), (Int64.max, UInt32.max), (-42, 7), (Int64.min, 9)] {
                let text = "\(node):\(wall):\(logical)"
                #expect(IdKey.generatedID(node: node, wall: wall, logical: logical) == text)
                var written = CBORWriter(), expected = CBORWriter()
                IdKey.writeGeneratedID(node: node, wall: wall, logical: logical, to: &written)
                expected.string(text)
                #expect(written.bytes == expected.bytes, "\(text)")
            }
        }
        #expect(IdKey.generatedParts("a:b:1:2")?.node == "a:b")
        // Keys of later clocks sort after earlier ones whatever the node.
        #expect(IdKey.make("zz:100:0").lexicographicallyPrecedes(IdKey.make("aa:101:0")))
        // Non-canonical numbers and other shapes keep their text, so no two ids share a key.
        let others = ["node:007:1", "node:7:01", "node:+7:1", "node:-7:1", ":7:1", "node:7:", "node:7:4294967296",
                      "node:99999999999999999999:1", "plain-id", "a:b"]
        for id in others { #expect(IdKey.make(id) == [0] + Array(id.utf8), "\(id)") }
        let all = others + ["node:7:1", "node:7:0", "node:0:1"]
        #expect(Set(all.map(IdKey.make)).count == all.count)
    }

    @Test("a payload length in the header that disagrees with the payload is reported as corruption")
    func wrongPayloadLength() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try store.appendBlocking([event("a", ["text": "hello"]), event("b")])
        try store.env.write { txn in
            guard var record = try txn.get(txn.dbs.events, Key.seq(1)) else { return }
            record[36] &+= 3
            try txn.put(txn.dbs.events, Key.seq(1), record)
        }
        #expect(throws: StoreError.self) { try store.event(at: 1) }
        let report = try store.verify()
        #expect(!report.ok && report.firstBadSeq == 1)
        // Skipping payloads trusts the header: the fields after the payload come out malformed.
        #expect(throws: StoreError.self) { try store.scan(fields: .envelope) { _ in true } }
    }
}

@Suite("Replica ids")
struct ReplicaIDTests {
    @Test("every store is its own replica: two stores on one machine differ, an id survives reopening, renewing replaces it, stats shows it")
    func distinctAndStable() throws {
        let dir = TemporaryDirectory()
        let a = try EventStore.open(at: dir.store("a"))
        let b = try EventStore.open(at: dir.store("b"))
        #expect(a.nodeID == b.nodeID)
        #expect(a.replicaID != b.replicaID)
        #expect(ReplicaID.isValid(a.replicaID) && a.replicaID.count == 16)
        let first = a.replicaID
        a.close()
        let reopened = try EventStore.open(at: dir.store("a"))
        #expect(reopened.replicaID == first)
        let renewed = try reopened.renewReplicaID()
        #expect(renewed != first && reopened.replicaID == renewed)
        #expect(try reopened.stats().replicaID == renewed)
        reopened.close()
        #expect(try EventStore.open(at: dir.store("a")).replicaID == renewed)
        #expect(throws: StoreError.self) { try b.renewReplicaID("Not Valid") }
        b.close()
    }

    @Test("a store made before replica ids gets one when first opened by this version")
    func olderStoreGetsOne() throws {
        let dir = TemporaryDirectory()
        var options = StoreOptions()
        options.replicaID = "old-store"
        let store = try EventStore.open(at: dir.store(), options: options)
        _ = try store.appendBlocking([NewEvent(type: "operator.note", stream: "node/a", data: ["text": "x"])])
        store.close()
        // Remove the id behind the store's back, as a store of the previous version lacks it.
        #expect(try run("/usr/bin/mdb_dump", ["-p", "-s", "meta", dir.store()]).stdout.contains("old-store"))
        try removeMetaKey("replica", in: dir.store())
        var fresh = StoreOptions()
        fresh.replicaID = "assigned-later"
        let upgraded = try EventStore.open(at: dir.store(), options: fresh)
        #expect(upgraded.replicaID == "assigned-later")
        #expect(try upgraded.head().seq == 1)
        upgraded.close()
    }
}
