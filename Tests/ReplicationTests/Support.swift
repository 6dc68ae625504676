import EventStore
import Replication
import TestKit

/// An in-memory replica with its own clock.
func memoryReplica(_ id: String, clock: ManualClock = ManualClock(Timestamp(seconds: 1_795_000_000))) -> Replica {
    Replica(log: MemoryLog(replicaID: id, clock: clock))
}

/// One full pull: `replica` asks `peer` page by page, every message through the binary encoding.
@discardableResult
func pull(_ replica: Replica, from peer: Replica, page: Int = SyncLimits.pageOperations) throws -> Int {
    var first = true
    return try replica.pull { request in
        defer { first = false }
        return SyncCoding.encode(try peer.respond(to: SyncCoding.decodeRequest(SyncCoding.encode(request)), limit: page, acknowledging: first))
    }.delivered
}

/// Everyone pulls from everyone until nothing moves.
func syncAll(_ replicas: [Replica]) throws {
    for _ in 0..<replicas.count + 1 {
        var moved = 0
        for a in replicas { for b in replicas where a !== b { moved += try pull(a, from: b) } }
        if moved == 0 { return }
    }
}

extension Replica {
    func strings(_ key: String, map: String = "default") throws -> [String] {
        try values(map: map, key: key).map { $0.stringValue ?? JSONWriter.encode($0) }.sorted()
    }
}
