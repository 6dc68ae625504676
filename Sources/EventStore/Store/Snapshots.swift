import CLMDB

/// Saved states of projections, stored beside the log. The store treats them as opaque bytes
/// tagged with the projection's name and version and a SHA-256 digest; the Projections module
/// gives them meaning.
public struct StoredSnapshot: Sendable, Hashable {
    public let name: String
    /// The state after applying events 1 through `seq`.
    public let seq: UInt64
    /// The projection version that wrote it.
    public let version: UInt32
    /// SHA-256 of `state` as written.
    public let digest: Digest
    public let state: [UInt8]

    /// False when the bytes no longer match the digest written with them.
    public var isIntact: Bool { (try? Digest.sha256(state)) == digest }
}

/// A snapshot's key facts, without its bytes.
public struct SnapshotSummary: Sendable, Hashable {
    public let seq: UInt64
    public let version: UInt32
    public let bytes: Int
}

/// How far a projection's persisted state reaches.
public struct ProjectionCheckpoint: Sendable, Hashable {
    public let seq: UInt64
    public let version: UInt32
}

extension Digest {
    /// SHA-256 of `bytes`, through OpenSSL.
    public static func sha256(_ bytes: [UInt8]) throws(StoreError) -> Digest {
        let hasher = try SHA256Hasher()
        return bytes.withUnsafeBytes { hasher.digest($0) }
    }
}

extension EventStore {
    static func snapshotKey(_ name: String, _ seq: UInt64) -> [UInt8] { Array(name.utf8) + [0] + Key.seq(seq) }
    static func checkpointKey(_ name: String) -> [UInt8] { Array("projection/\(name)".utf8) }

    /// Saves `state` as projection `name`'s state after event `seq`, and moves its checkpoint
    /// to `seq`, in one transaction: the checkpoint never claims a state that was not saved.
    public func saveSnapshot(name: String, version: UInt32, seq: UInt64, state: [UInt8]) throws(StoreError) {
        try saveSnapshots(name: name, version: version, [(seq, state, try Digest.sha256(state))])
    }

    /// Saves several states of projection `name` and moves its checkpoint on to the newest of
    /// them (never back), in one transaction (one commit for a replay that passed several snapshot points).
    /// Each state comes with its SHA-256 `digest`, which the caller has already computed (a
    /// projection's encoded state carries it); a wrong one makes the snapshot read as damaged.
    public func saveSnapshots(name: String, version: UInt32, _ states: [(seq: UInt64, state: [UInt8], digest: Digest)]) throws(StoreError) {
        guard let newest = states.map(\.seq).max() else { return }
        let versionBytes = withUnsafeBytes(of: version.bigEndian) { Array($0) }
        var values: [(key: [UInt8], value: [UInt8])] = []
        for (seq, state, digest) in states {
            var value = versionBytes
            value.reserveCapacity(36 + state.count)
            value += digest.bytes
            value += state
            values.append((Self.snapshotKey(name, seq), value))
        }
        try storeCall {
            try env.write { txn in
                for (key, value) in values { try txn.put(txn.dbs.snapshots, key, value) }
                // A snapshot saved behind the checkpoint (a repair, retention's anchor) leaves
                // it where it is.
                if let current = try txn.get(txn.dbs.checkpoints, Self.checkpointKey(name)), current.count == 12,
                   Array(current[8...]) == versionBytes, try Key.readUInt64(current) > newest { return }
                try txn.put(txn.dbs.checkpoints, Self.checkpointKey(name), Key.seq(newest) + versionBytes)
            }
        }
    }

    /// The checkpoint of projection `name`, or nil when it has none.
    public func projectionCheckpoint(name: String) throws(StoreError) -> ProjectionCheckpoint? {
        try storeCall {
            try env.read { txn in
                guard let value = try txn.get(txn.dbs.checkpoints, Self.checkpointKey(name)), value.count == 12 else { return nil }
                return ProjectionCheckpoint(seq: try Key.readUInt64(value), version: UInt32(bigEndian: value.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 8, as: UInt32.self) }))
            }
        }
    }

    /// Offers projection `name`'s snapshots at or before `seq`, newest first, until `accept`
    /// returns true; returns the accepted one. A snapshot whose value is too short to hold its
    /// header is offered too (with an empty state and a zero digest), so that the caller sees it
    /// as damaged rather than missing.
    public func snapshot(name: String, atOrBefore seq: UInt64, accept: (StoredSnapshot) -> Bool) throws(StoreError) -> StoredSnapshot? {
        try storeCall {
            try env.read { txn in
                let prefix = Array(name.utf8) + [0]
                let cursor = try txn.cursor(txn.dbs.snapshots)
                defer { cursor.close() }
                var entry = try cursor.get(MDB_SET_RANGE, key: Self.snapshotKey(name, seq == .max ? seq : seq + 1))
                entry = try entry == nil ? cursor.get(MDB_LAST) : cursor.get(MDB_PREV)
                while let (key, value) = entry, key.count == prefix.count + 8, key.starts(with: prefix) {
                    let snapshot = try Self.decodeSnapshot(name: name, key: key, value: value)
                    if snapshot.seq <= seq && accept(snapshot) { return snapshot }
                    entry = try cursor.get(MDB_PREV)
                }
                return nil
            }
        }
    }

    private static func decodeSnapshot(name: String, key: UnsafeRawBufferPointer, value: UnsafeRawBufferPointer) throws(StoreError) -> StoredSnapshot {
        let seq = try Key.readUInt64(key, at: key.count - 8)
        guard value.count >= 36, let start = value.baseAddress else {
            return StoredSnapshot(name: name, seq: seq, version: 0, digest: .zero, state: [])
        }
        let version = UInt32(bigEndian: start.loadUnaligned(as: UInt32.self))
        return StoredSnapshot(name: name, seq: seq, version: version, digest: Digest(raw: start + 4), state: Array(value[36...]))
    }

    /// Every snapshot of projection `name`, oldest first.
    public func snapshots(name: String) throws(StoreError) -> [SnapshotSummary] {
        try storeCall { try env.read { txn in try Self.summaries(txn, name) } }
    }

    private static func summaries(_ txn: Transaction, _ name: String) throws -> [SnapshotSummary] {
        let prefix = Array(name.utf8) + [0]
        let cursor = try txn.cursor(txn.dbs.snapshots)
        defer { cursor.close() }
        var out: [SnapshotSummary] = []
        var entry = try cursor.get(MDB_SET_RANGE, key: prefix)
        while let (key, value) = entry, key.count == prefix.count + 8, key.starts(with: prefix) {
            let version = value.count >= 4 ? UInt32(bigEndian: value.loadUnaligned(as: UInt32.self)) : 0
            out.append(SnapshotSummary(seq: try Key.readUInt64(key, at: prefix.count), version: version, bytes: max(0, value.count - 36)))
            entry = try cursor.get(MDB_NEXT)
        }
        return out
    }

    /// Deletes projection `name`'s snapshots (all, or only those for which `where` is true) and,
    /// unless `keepCheckpoint`, its checkpoint, in one transaction. Returns how many were deleted.
    @discardableResult
    public func deleteSnapshots(name: String, where predicate: (SnapshotSummary) -> Bool = { _ in true }, keepCheckpoint: Bool = false) throws(StoreError) -> Int {
        try storeCall {
            try env.write { txn in
                let doomed = try Self.summaries(txn, name).filter(predicate)
                for snapshot in doomed {
                    let key = Self.snapshotKey(name, snapshot.seq)
                    _ = try key.withUnsafeBytes { try txn.delete(txn.dbs.snapshots, $0) }
                }
                if !keepCheckpoint {
                    let key = Self.checkpointKey(name)
                    _ = try key.withUnsafeBytes { try txn.delete(txn.dbs.checkpoints, $0) }
                }
                return doomed.count
            }
        }
    }
}
