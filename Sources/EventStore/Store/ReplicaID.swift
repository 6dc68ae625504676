/// A store's identity as a replica of shared state: 16 lower-case hexadecimal digits (64 random
/// bits), recorded in the store's meta when the store is created. Two stores on one machine
/// are two replicas; a store keeps its id for life unless `EventStore.renewReplicaID` gives it a
/// new one (after a restore from a backup).
public enum ReplicaID {
    static let metaKey = Key.text("replica")
    /// Replica ids are names in event ids and streams: short, and free of separators.
    public static let maximumLength = 64

    /// A fresh id from the system's random generator.
    public static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        let bits = generator.next() as UInt64
        let hex = String(bits, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    /// Whether `id` may name a replica: 1 to 64 characters from `a-z`, `0-9` and `-`.
    public static func isValid(_ id: String) -> Bool {
        let utf8 = id.utf8
        return !utf8.isEmpty && utf8.count <= maximumLength
            && utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "-") }
    }

    static func checked(_ id: String) throws(StoreError) -> String {
        guard isValid(id) else {
            throw StoreError.invalidEvent(index: -1, field: "replica id", message: "'\(id)' is not 1 to \(maximumLength) characters of a-z, 0-9 and '-'")
        }
        return id
    }

    /// The store's replica id; a store made before replica ids existed gets one now, in a write
    /// transaction that re-reads first (two processes opening it at once agree on one id).
    static func loadOrAssign(_ env: Environment, path: String, proposed: String?) throws -> String {
        if let stored = try env.read({ txn in try txn.get(txn.dbs.meta, metaKey) }) {
            return try decode(stored, path: path)
        }
        let fresh = try checked(proposed ?? random())
        return try env.write { txn in
            if let stored = try txn.get(txn.dbs.meta, metaKey) { return try decode(stored, path: path) }
            try txn.put(txn.dbs.meta, metaKey, Key.text(fresh))
            return fresh
        }
    }

    private static func decode(_ bytes: [UInt8], path: String) throws -> String {
        guard let id = String(validating: bytes, as: UTF8.self), isValid(id) else {
            throw StoreError.notAStore(path: path, reason: "malformed replica id in the store's meta")
        }
        return id
    }
}
