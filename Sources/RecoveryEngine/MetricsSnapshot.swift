import EventStore
import Healing
import Projections
import Replication
import Trust

/// Everything the Prometheus exposition shows, read at one point of the log: the `metrics`
/// counters, the domains' state (breakers, replicated data, certificates) at the same point,
/// and, for the present only, the store's own figures.
public struct MetricsSnapshot: Sendable {
    public var nodeID: String
    public var replicaID: String
    /// The time gauges are taken at: expiry and sync lag in seconds. The time of the last
    /// event at a past point, the store's clock for the present.
    public var time: Timestamp
    public var headSeq: UInt64
    public var counters = MetricsProjection.Counters()
    public var breakers: [String: BreakerState] = [:]
    public var topology = Topology()
    public var replicated = ReplicatedState()
    public var certificates = CertificatesProjection.Certificates()
    /// Events the projections skipped as malformed, per projection.
    public var malformed: [String: UInt64] = [:]
    /// Store size, map use and index lag: nil at a past point, which they do not describe.
    public var store: StoreStats?

    public init(nodeID: String, replicaID: String, time: Timestamp, headSeq: UInt64) {
        self.nodeID = nodeID
        self.replicaID = replicaID
        self.time = time
        self.headSeq = headSeq
    }

    /// Reads the snapshot at `seq` (nil: now) by replaying the projections (from their
    /// snapshots where the store has them).
    public static func read(store: EventStore, at seq: UInt64? = nil) throws(ProjectionError) -> MetricsSnapshot {
        let head: UInt64
        do { head = try store.head().seq } catch { throw ProjectionError.store(error) }
        let point = min(seq ?? head, head)
        var time = store.options.clock.now()
        if seq != nil, point > 0, let event = try? store.event(at: point) { time = event.time }
        var snapshot = MetricsSnapshot(nodeID: store.nodeID, replicaID: store.replicaID, time: time, headSeq: point)
        func state<P: Projection>(_ projection: P) throws(ProjectionError) -> P.State {
            point == 0 ? projection.initialState : try Replay(store: store, projection: projection).state(at: point)
        }
        snapshot.fill(counters: try state(MetricsProjection()), breakers: try state(BreakersProjection()), topology: try state(TopologyProjection()),
                      replicated: try state(ReplicatedStateProjection()), certificates: try state(CertificatesProjection()))
        if seq == nil { snapshot.store = try? store.stats() }
        return snapshot
    }

    /// Takes the projections' states, and their malformed counts.
    mutating func fill(counters: MetricsProjection.State, breakers: BreakersProjection.State, topology: TopologyProjection.State,
                       replicated: ReplicatedStateProjection.State, certificates: CertificatesProjection.State) {
        self.counters = counters.value
        self.breakers = breakers.value
        self.topology = topology.value
        self.replicated = replicated.value
        self.certificates = certificates.value
        for (name, count) in [("metrics", counters.malformed.count), ("breakers", breakers.malformed.count), ("topology", topology.malformed.count),
                              ("replicated", replicated.malformed.count), ("certificates", certificates.malformed.count)] {
            malformed[name] = UInt64(max(0, count))
        }
    }
}
