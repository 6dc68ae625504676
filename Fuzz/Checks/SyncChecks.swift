import EventStore
import Replication

extension FuzzCheck {
    /// Sync messages in the binary encoding: whatever decodes is a valid message that encodes
    /// and decodes back to itself, and a replica receiving it either applies it or refuses it
    /// with a typed error.
    public static let syncBinary = FuzzCheck(name: "sync-binary", check: { bytes throws(FuzzFinding) in
        if let request = try? SyncCoding.decodeRequest(bytes) {
            try require((try? SyncCoding.decodeRequest(SyncCoding.encode(request))) == request, "request round trip changed \(request)")
        }
        guard let response = try? SyncCoding.decodeResponse(bytes) else { return }
        try require((try? SyncCoding.decodeResponse(SyncCoding.encode(response))) == response, "response round trip changed it")
        receiveChecked(response)
    }, seeds: { syncSeeds().map { SyncCoding.encode($0.1) } + syncSeeds().map { SyncCoding.encode($0.0) } })

    /// The same for the JSON encoding.
    public static let syncJSON = FuzzCheck(name: "sync-json", check: { bytes throws(FuzzFinding) in
        if let request = try? SyncJSON.decodeRequest(bytes) {
            try require((try? SyncJSON.decodeRequest(Array(SyncJSON.encode(request).utf8))) == request, "request round trip changed \(request)")
        }
        guard let response = try? SyncJSON.decodeResponse(bytes) else { return }
        try require((try? SyncJSON.decodeResponse(Array(SyncJSON.encode(response).utf8))) == response, "response round trip changed it")
        receiveChecked(response)
    }, seeds: { syncSeeds().map { Array(SyncJSON.encode($0.1).utf8) } + syncSeeds().map { Array(SyncJSON.encode($0.0).utf8) } })

    /// A replica with some state of its own meets the message: a result or a typed error.
    static func receiveChecked(_ response: SyncResponse) {
        let replica = Replica(log: MemoryLog(replicaID: "fuzz", clock: ManualClock(Timestamp(seconds: 1_795_000_000))), bufferLimit: 64)
        _ = try? replica.put(key: "k", value: 1, strategy: .manual)
        _ = try? replica.receive(response)
    }

    /// Requests and responses covering every operation kind.
    static func syncSeeds() -> [(SyncRequest, SyncResponse)] {
        let clock = ManualClock(Timestamp(seconds: 1_795_000_000))
        let a = Replica(log: MemoryLog(replicaID: "a", clock: clock)), b = Replica(log: MemoryLog(replicaID: "b", clock: clock))
        var out: [(SyncRequest, SyncResponse)] = []
        do {
            try a.put(key: "k", value: ["nested": [1, 2.5, "x", nil]], strategy: .manual)
            try a.add(set: "quarantine", element: "node-7")
            try a.increment(counter: "c", by: -5)
            out.append((try b.syncRequest(), try a.respond(to: b.syncRequest())))
            try b.receive(out[0].1)
            try b.put(key: "k", value: "b", strategy: .manual)
            try a.put(key: "k", value: "a")
            try a.receive(try b.respond(to: a.syncRequest()))
            try a.resolve(key: "k", value: "settled")
            try a.remove(set: "quarantine", element: "node-7")
            try a.put(key: "gone", value: 1)
            try a.delete(key: "gone")
            try a.decommission("b")
            out.append((try b.syncRequest(), try a.respond(to: b.syncRequest(), limit: 3)))
            out.append((try a.syncRequest(), try a.respond(to: SyncRequest(replica: "c", vector: VersionVector()))))
        } catch {}
        return out
    }
}
