import CLMDB

/// One range of the log moved out of the live store by retention: events `firstSeq...throughSeq`
/// are in the verifiable segment at `location`, and `hash` (the hash of event `throughSeq`) is
/// the chain anchor the live store's first event links to.
public struct ArchiveMark: Sendable, Hashable, CustomStringConvertible {
    public var firstSeq: UInt64
    public var throughSeq: UInt64
    public var hash: Digest
    /// The segment file that holds the range.
    public var location: String
    /// SHA-256 of the segment file as written.
    public var segmentSHA256: Digest
    public var archivedAt: Timestamp

    public init(firstSeq: UInt64, throughSeq: UInt64, hash: Digest, location: String, segmentSHA256: Digest, archivedAt: Timestamp) {
        self.firstSeq = firstSeq
        self.throughSeq = throughSeq
        self.hash = hash
        self.location = location
        self.segmentSHA256 = segmentSHA256
        self.archivedAt = archivedAt
    }

    public var description: String { "seq \(firstSeq)...\(throughSeq) in \(location)" }

    /// Reads the stored list of archived ranges (meta `archives`, bytes from the store file):
    /// ranges must be well formed and follow each other from seq 1.
    public static func list(_ bytes: [UInt8]) throws(StoreError) -> [ArchiveMark] {
        guard let value = try? JSONParser.parse(bytes), let items = value.arrayValue else {
            throw .malformedEntry("meta archives is not a JSON array")
        }
        var marks: [ArchiveMark] = []
        for item in items {
            guard let mark = ArchiveMark(json: item), mark.firstSeq == (marks.last?.throughSeq ?? 0) + 1 else {
                throw .malformedEntry("meta archives holds a malformed or discontinuous range")
            }
            marks.append(mark)
        }
        return marks
    }

    /// The stored form `list` reads.
    public static func encode(_ marks: [ArchiveMark]) -> [UInt8] { Array(JSONWriter.encode(.array(marks.map(\.json))).utf8) }

    var json: EventValue {
        ["first": .int(Int64(clamping: firstSeq)), "through": .int(Int64(clamping: throughSeq)), "hash": .string(hash.hex),
         "location": .string(location), "sha256": .string(segmentSHA256.hex), "time": .string(archivedAt.rfc3339)]
    }

    init?(json value: EventValue) {
        guard case .int(let first)? = value["first"], case .int(let through)? = value["through"], first >= 1, through >= first,
              let hash = value["hash"]?.stringValue.flatMap(Digest.init(hex:)), let location = value["location"]?.stringValue,
              let sha = value["sha256"]?.stringValue.flatMap(Digest.init(hex:)),
              let time = value["time"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) else { return nil }
        self.init(firstSeq: UInt64(first), throughSeq: UInt64(through), hash: hash, location: location, segmentSHA256: sha, archivedAt: time)
    }
}

/// The meta entry `archives`: the archived ranges, oldest first, as a JSON array.
enum ArchiveMarks {
    static let metaKey = Key.text("archives")

    static func load(_ txn: Transaction) throws -> [ArchiveMark] {
        guard let stored = try txn.get(txn.dbs.meta, metaKey) else { return [] }
        return try ArchiveMark.list(stored)
    }

    static func save(_ marks: [ArchiveMark], in txn: Transaction) throws {
        try txn.put(txn.dbs.meta, metaKey, ArchiveMark.encode(marks))
    }

    /// The error for a read of `seq`, which the live store no longer holds, when it is archived.
    static func error(reading seq: UInt64, _ txn: Transaction) throws -> StoreError? {
        let marks = try load(txn)
        guard let mark = marks.first(where: { $0.firstSeq <= seq && seq <= $0.throughSeq }), let last = marks.last else { return nil }
        return .archived(seq: seq, liveFrom: last.throughSeq + 1, location: mark.location)
    }
}

extension EventStore {
    /// Events removed from each write transaction of `archive`: short enough that appends go on
    /// between them.
    static let archiveEventsPerTransaction = 4_096

    /// The archived ranges of this store, oldest first (empty when nothing was archived).
    public func archives() throws(StoreError) -> [ArchiveMark] {
        try storeCall { try env.read { txn in try ArchiveMarks.load(txn) } }
    }

    /// The chain anchor the live log starts from: the last archived seq and its hash, or nil.
    public func archiveAnchor() throws(StoreError) -> Anchor? {
        try archives().last.map { Anchor(seq: $0.throughSeq, hash: $0.hash) }
    }

    /// Removes events `first...through` (first is the event after the last archived one) and
    /// their index entries from the live store, once the caller has written them to the segment
    /// at `location`. The removal runs in short transactions, each of which moves the
    /// `archives` mark on, so a crash leaves a store whose live log starts at its mark. Stream
    /// heads and the id index stay: appends go on at the same versions, and an archived event
    /// appended again is still recognised. Snapshots before `through` are deleted: a replay from
    /// them would need the archived events.
    @discardableResult
    public func removeArchived(through: UInt64, location: String, segmentSHA256: Digest) throws(StoreError) -> ArchiveMark {
        let head = try head()
        let first = (try archiveAnchor()?.seq ?? 0) + 1
        guard through >= first, through <= head.seq else {
            throw .outOfRange("cannot archive through seq \(through): the live log holds seq \(first)...\(head.seq)")
        }
        try reindex()
        guard try indexCheckpoint() >= through else { throw .outOfRange("the index has not reached seq \(through)") }
        guard let anchor = try event(at: through)?.hash else { throw .corrupt(seq: through, "the log has no record at this position") }
        let time = options.clock.now()
        var mark = ArchiveMark(firstSeq: first, throughSeq: first - 1, hash: .zero, location: location, segmentSHA256: segmentSHA256, archivedAt: time)
        var next = first
        while next <= through {
            let last = min(through, next + UInt64(Self.archiveEventsPerTransaction) - 1)
            try storeCall {
                try env.write { txn in
                    var marks = try ArchiveMarks.load(txn)
                    if marks.last?.throughSeq ?? 0 >= first { marks.removeLast() }
                    var lastHash = Digest.zero
                    _ = try txn.walkRecords(from: next, to: last) { seq, record in
                        let event = try Record.decode(record, expectedSeq: seq, fields: [.tags, .links])
                        lastHash = event.hash
                        try Self.removeIndexEntries(of: event, in: txn)
                        return true
                    }
                    for seq in next...last { _ = try Key.seq(seq).withUnsafeBytes { try txn.delete(txn.dbs.events, $0) } }
                    mark.throughSeq = last
                    mark.hash = lastHash
                    try ArchiveMarks.save(marks + [mark], in: txn)
                }
            }
            next = last + 1
        }
        guard mark.hash == anchor else { throw .corrupt(seq: through, "the archived record changed while it was removed") }
        try storeCall { try env.write { txn in try Self.deleteSnapshots(before: through, in: txn) } }
        return mark
    }

    private static func removeIndexEntries(of e: Event, in txn: Transaction) throws {
        let seq = Key.seq(e.seq)
        try txn.delete(txn.dbs.streams, Key.text(e.stream), Key.pair(e.version, e.seq))
        try txn.delete(txn.dbs.types, Key.text(e.type), seq)
        for key in IndexBuilder.tagKeys(node: e.node, correlation: e.correlation, tags: e.tags) {
            try txn.delete(txn.dbs.tags, key.bytes, seq)
        }
        _ = try Key.time(e.time, e.seq).withUnsafeBytes { try txn.delete(txn.dbs.time, $0) }
    }

    /// Deletes every projection's snapshots taken before `seq`.
    private static func deleteSnapshots(before seq: UInt64, in txn: Transaction) throws {
        let cursor = try txn.cursor(txn.dbs.snapshots)
        defer { cursor.close() }
        var doomed: [[UInt8]] = []
        var entry = try cursor.get(MDB_FIRST)
        while let (key, _) = entry {
            if key.count > 9, key[key.count - 9] == 0, try Key.readUInt64(key, at: key.count - 8) < seq { doomed.append(Array(key)) }
            entry = try cursor.get(MDB_NEXT)
        }
        for key in doomed { _ = try key.withUnsafeBytes { try txn.delete(txn.dbs.snapshots, $0) } }
    }
}
