/// How a store is opened.
public struct StoreOptions: Sendable {
    /// Initial size of the memory map. The map grows by itself when full; this only sets where
    /// it starts.
    public var mapSize: Int = 64 << 20
    /// The map never grows past this; reaching it is reported as a full disk.
    public var maximumMapSize: Int = 1 << 40
    /// LMDB reader slots shared by all processes that open the store (fixed by the first opener).
    public var maxReaders: Int = 126
    public var durability: Durability = .durable
    /// This node's id, recorded when the store is created; defaults to the host name.
    public var nodeID: String?
    /// This store's replica id, for a store being created (and for an older store that gets
    /// one when first opened by this build): 16 lower-case hex digits from the system's random
    /// generator unless given here (simulations and tests give fixed ones). Ignored for a store
    /// that has one; `EventStore.renewReplicaID` replaces it.
    public var replicaID: String?
    /// The physical clock; inject a `ManualClock` for deterministic tests and simulations.
    public var clock: any WallClock = SystemClock()
    /// A remote hybrid-logical-clock timestamp further ahead of the local clock than this is
    /// refused, so one bad peer cannot drag the clock into the future for good.
    public var maximumClockAheadMicros: Int64 = 60_000_000
    /// The index builder works in batches of up to this many events.
    public var indexBatchSize: Int = 65_536
    /// While appends keep arriving, the index builder runs once the unindexed tail reaches
    /// `min(indexBatchSize, maximumIndexLag / 2)` events, and appends wait while the tail is
    /// longer than this, so that queries never scan a long tail.
    public var maximumIndexLag: Int = 150_000
    /// With `false` the writer never builds indexes by itself; `reindex()` does. Queries stay
    /// exact either way (they scan the unindexed tail).
    public var indexesInBackground: Bool = true
    /// The domains whose payloads appends check (see `EventVocabulary`); none by default, since
    /// the store knows nothing of what events mean.
    public var vocabularies: [any EventVocabulary] = []
    /// A fault hook at the LMDB boundary, for simulations and tests only: consulted before
    /// every write transaction's commit; a non-nil errno (EIO, ENOSPC, ...) aborts the
    /// transaction and reports that code as the commit's, as a failing disk would.
    public var commitFault: (@Sendable () -> Int32?)?
    /// With `false`, opening a directory that holds no store fails instead of creating one.
    public var create: Bool = true

    public init() {}
}

/// When an append counts as committed.
public enum Durability: String, Sendable, CaseIterable {
    /// Data and meta page are synced before an append returns (LMDB default): survives power loss.
    case durable
    /// The meta page is not synced (MDB_NOMETASYNC): an OS crash may undo the last commit but
    /// never corrupts the store. A process crash loses nothing.
    case metaAsync
}
