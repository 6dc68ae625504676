import EventStore
import Healing
import Projections
import Replication
import Trust

/// The projections behind the exposition, kept by runners that catch up incrementally: what a
/// long-running agent renders `/metrics` from (`MetricsSnapshot.read` replays instead, for a
/// copy of a store or a past point).
final class MetricsSource: Sendable {
    let store: EventStore
    let counters: ProjectionRunner<MetricsProjection>
    let breakers: ProjectionRunner<BreakersProjection>
    let topology: ProjectionRunner<TopologyProjection>
    let replicated: ProjectionRunner<ReplicatedStateProjection>
    let certificates: ProjectionRunner<CertificatesProjection>

    init(store: EventStore) throws(ProjectionError) {
        self.store = store
        counters = try ProjectionRunner(store: store, projection: MetricsProjection())
        breakers = try ProjectionRunner(store: store, projection: BreakersProjection())
        topology = try ProjectionRunner(store: store, projection: TopologyProjection())
        replicated = try ProjectionRunner(store: store, projection: ReplicatedStateProjection())
        certificates = try ProjectionRunner(store: store, projection: CertificatesProjection())
    }

    /// Every runner caught up, then read.
    func snapshot() throws(ProjectionError) -> MetricsSnapshot {
        for catchUp in [counters.catchUp, breakers.catchUp, topology.catchUp, replicated.catchUp, certificates.catchUp] { _ = try catchUp() }
        var snapshot = MetricsSnapshot(nodeID: store.nodeID, replicaID: store.replicaID, time: store.options.clock.now(),
                                       headSeq: min(counters.position, breakers.position, topology.position, replicated.position, certificates.position))
        snapshot.fill(counters: counters.state, breakers: breakers.state, topology: topology.state, replicated: replicated.state,
                      certificates: certificates.state)
        snapshot.store = try? store.stats()
        return snapshot
    }

    /// Whether every runner has applied the log's head.
    func isCaughtUp() -> Bool {
        guard let head = try? store.head().seq else { return false }
        return [counters.position, breakers.position, topology.position, replicated.position, certificates.position].allSatisfy { $0 >= head }
    }
}
