import EventStore

/// A projection with its state type erased, so that tools (`recoveryctl replay`, `diff`,
/// `projections`, `rebuild`) can work over every projection of a package by name.
public struct RegisteredProjection: Sendable {
    public let name: String
    public let version: UInt32
    public let snapshotInterval: UInt64
    private let stateAt: @Sendable (EventStore, UInt64, @escaping @Sendable (String) -> Void) throws(ProjectionError) -> EncodedState
    private let malformedAt: @Sendable (EventStore, UInt64) throws(ProjectionError) -> MalformedEvents?
    private let rebuildIn: @Sendable (EventStore, @escaping @Sendable (String) -> Void) throws(ProjectionError) -> Int
    private let saveAt: @Sendable (EventStore, UInt64) throws(ProjectionError) -> Void

    public init<P: Projection>(_ projection: P) {
        name = projection.name
        version = projection.version
        snapshotInterval = projection.snapshotInterval
        stateAt = { store, seq, warn throws(ProjectionError) in
            try projection.encode(Replay(store: store, projection: projection, warn: warn).state(at: seq))
        }
        malformedAt = { store, seq throws(ProjectionError) in
            seq == 0 ? nil : projection.malformedEvents(in: try Replay(store: store, projection: projection).state(at: seq))
        }
        rebuildIn = { store, warn throws(ProjectionError) in
            // An archived store keeps its state at the archive anchor: the events before it are
            // not here to replay.
            let anchor = try storeStep { try store.archiveAnchor()?.seq }
            _ = try storeStep { try store.deleteSnapshots(name: projection.name, where: { $0.seq != anchor }) }
            let runner = try ProjectionRunner(store: store, projection: projection, warn: warn)
            let applied = try runner.catchUp()
            try runner.saveSnapshot()
            return applied
        }
        saveAt = { store, seq throws(ProjectionError) in
            try Replay(store: store, projection: projection).save(try Replay(store: store, projection: projection).state(at: seq), at: seq)
        }
    }

    /// Saves the projection's state after event `seq` as a snapshot (for retention, before the
    /// events up to `seq` leave the store).
    public func saveSnapshot(at seq: UInt64, in store: EventStore) throws(ProjectionError) {
        try saveAt(store, seq)
    }

    /// The canonical state after events 1 through `seq`.
    public func state(at seq: UInt64, in store: EventStore, warn: @escaping @Sendable (String) -> Void = { _ in }) throws(ProjectionError) -> EncodedState {
        try stateAt(store, seq, warn)
    }

    /// The malformed events the projection skipped up to `seq`, for projections that count
    /// them (nil for the others, and for an empty store).
    public func malformedEvents(at seq: UInt64, in store: EventStore) throws(ProjectionError) -> MalformedEvents? {
        try malformedAt(store, seq)
    }

    /// Drops the projection's snapshots and checkpoint and rebuilds it from the log, saving
    /// snapshots as it goes; returns the events applied.
    @discardableResult
    public func rebuild(in store: EventStore, warn: @escaping @Sendable (String) -> Void = { _ in }) throws(ProjectionError) -> Int {
        try rebuildIn(store, warn)
    }

    /// Version, checkpoint, snapshots and lag of this projection in `store`.
    public func status(in store: EventStore) throws(ProjectionError) -> ProjectionStatus {
        let head = try storeStep { try store.head().seq }
        let checkpoint = try storeStep { try store.projectionCheckpoint(name: name) }
        let snapshots = try storeStep { try store.snapshots(name: name) }
        let current = checkpoint.flatMap { $0.version == version ? $0.seq : nil } ?? 0
        return ProjectionStatus(name: name, version: version, checkpoint: current,
                                snapshots: snapshots.filter { $0.version == version }.count,
                                staleSnapshots: snapshots.filter { $0.version != version }.count,
                                lag: head - min(head, current))
    }
}

/// Where a projection stands in a store.
public struct ProjectionStatus: Sendable, Hashable {
    public let name: String
    public let version: UInt32
    /// The seq its saved state reaches (0 when it has none of this version).
    public let checkpoint: UInt64
    public let snapshots: Int
    /// Snapshots of other versions, ignored until a runner or rebuild removes them.
    public let staleSnapshots: Int
    /// Events after the checkpoint.
    public let lag: UInt64
}

/// The projections a tool knows, by name.
public struct ProjectionRegistry: Sendable {
    public private(set) var all: [RegisteredProjection]

    public init(_ projections: [RegisteredProjection]) { all = projections }

    /// The projections that need no domain: `stats` and `streams`.
    public static let generic = ProjectionRegistry([RegisteredProjection(StatsProjection()), RegisteredProjection(StreamsProjection())])

    public func adding(_ more: [RegisteredProjection]) -> ProjectionRegistry { ProjectionRegistry(all + more) }

    public var names: [String] { all.map(\.name) }

    /// The named projections (all when `names` is empty), in the order asked for.
    public func select(_ names: [String]) throws(ProjectionError) -> [RegisteredProjection] {
        guard !names.isEmpty else { return all }
        var out: [RegisteredProjection] = []
        for name in names {
            guard let match = all.first(where: { $0.name == name }) else {
                throw .unknownProjection(name: name, known: self.names)
            }
            out.append(match)
        }
        return out
    }
}
