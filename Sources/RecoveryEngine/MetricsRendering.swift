import EventStore
import Healing
import Replication
import Trust

extension MetricsSnapshot {
    /// The metric name prefix.
    public static let prefix = "recovery_"

    /// The Prometheus text exposition (format 0.0.4) of this snapshot: base units, `_total`
    /// on counters, `node_id` on every series and `service` where one applies.
    public func render() -> String {
        var out = Exposition()
        let node: Exposition.Labels = [("node_id", nodeID)]
        let p = Self.prefix
        /// Series from counts keyed "a|b|c": the parts become the labels named, in order.
        func keyed(_ counts: [String: UInt64], _ names: [String]) -> [(Exposition.Labels, Double)] {
            counts.sorted { $0.key < $1.key }.map { key, count in
                let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                return (node + names.enumerated().map { ($0.element, $0.offset < parts.count ? parts[$0.offset] : "") }, Double(count))
            }
        }

        // Healing.
        out.family(p + "actions_total", .counter, help: "Recovery actions finished, by kind and outcome (succeeded, failed, rejected).",
                   keyed(counters.actions, ["kind", "outcome", "service"]))
        out.family(p + "actions_running", .gauge, help: "Recovery actions planned and not yet finished.", [(node, Double(counters.running.count))])
        out.histogram(p + "action_duration_seconds", help: "Duration of successful action attempts.",
                      counters.actionDurations.sorted { $0.key < $1.key }.map { (node + [("kind", $0.key)], $0.value) })
        var breakerStates: [(Exposition.Labels, Double)] = []
        for (name, state) in breakers.sorted(by: { $0.key < $1.key }) {
            for phase in BreakerPhase.allCases { breakerStates.append((node + [("breaker", name), ("state", phase.rawValue)], state.phase == phase ? 1 : 0)) }
        }
        out.family(p + "breaker_state", .gauge, help: "Circuit breaker state: 1 for the current state of each breaker, 0 for the others.", breakerStates)
        out.family(p + "breaker_transitions_total", .counter, help: "Circuit breaker transitions, by the state entered.",
                   keyed(counters.breakerTransitions, ["breaker", "to"]))
        out.family(p + "ratelimit_rejections_total", .counter, help: "Action attempts refused by a rate limiter.",
                   counters.rateLimitRejections.sorted { $0.key < $1.key }.map { (node + [("limiter", $0.key)], Double($0.value)) })
        out.histogram(p + "mapek_cycle_duration_seconds", help: "Duration of whole MAPE-K cycles.", [(node, counters.cycleDurations)])
        out.histogram(p + "mapek_phase_duration_seconds", help: "Duration of each MAPE-K phase (monitor, analyze, plan, execute).",
                      counters.phaseDurations.sorted { $0.key < $1.key }.map { (node + [("phase", $0.key)], $0.value) })
        out.family(p + "quarantined_nodes", .gauge, help: "Mesh nodes quarantined in the topology this node acts on.",
                   [(node, Double(topology.quarantined.count))])
        out.family(p + "incident_actions", .gauge, help: "Actions each recent incident caused, by correlation id.",
                   counters.incidents.sorted { $0.key < $1.key }.map { (node + [("incident", $0.key)], Double($0.value.actions)) })
        out.family(p + "incident_started_seconds", .gauge, help: "When each recent incident started (seconds since the epoch).",
                   counters.incidents.sorted { $0.key < $1.key }.map { (node + [("incident", $0.key)], Double($0.value.started / 1_000_000_000)) })
        out.family(p + "symptoms_total", .counter, help: "Symptoms detected, by kind.",
                   keyed(counters.symptoms, ["symptom", "service"]))
        out.family(p + "runbook_runs_total", .counter, help: "Runbook runs finished, by runbook and outcome (succeeded, failed, rolled_back, interrupted).",
                   keyed(counters.runbookRuns, ["runbook", "outcome"]))
        out.family(p + "policy_decisions_total", .counter, help: "Policy decisions, by policy, result (allow, deny) and the rule that decided.",
                   keyed(counters.policyDecisions, ["policy", "result", "rule"]))

        // Replication.
        out.family(p + "crdt_operations_total", .counter, help: "Replicated operations in the log, by the replica that made them.",
                   counters.crdtOperations.sorted { $0.key < $1.key }.map { (node + [("origin", $0.key)], Double($0.value)) })
        out.family(p + "crdt_conflicts_total", .counter, help: "Concurrent writes recorded as conflicts.", [(node, Double(counters.crdtConflicts))])
        let open = replicated.maps.values.reduce(0) { $0 + $1.values.filter(\.hasOpenConflict).count }
        out.family(p + "crdt_open_conflicts", .gauge, help: "Keys with a conflict waiting for a manual resolve.", [(node, Double(open))])
        out.family(p + "crdt_gc_items_total", .counter, help: "Items removed by distributed garbage collection, by kind.",
                   [(node + [("kind", "tombstones")], Double(counters.crdtTombstonesCollected)),
                    (node + [("kind", "operations")], Double(counters.crdtOperationsCompacted))])
        var lagOperations: [(Exposition.Labels, Double)] = [], lagSeconds: [(Exposition.Labels, Double)] = []
        for (peer, acknowledged) in replicated.acknowledged.sorted(by: { $0.key < $1.key }) where peer != replicaID {
            let behind = replicated.vector.counters.reduce(UInt64(0)) { $0 &+ ($1.value &- min($1.value, acknowledged[$1.key])) }
            lagOperations.append((node + [("peer", peer)], Double(behind)))
            if let last = counters.lastSynced[peer] {
                lagSeconds.append((node + [("peer", peer)], Double(max(0, time.nanoseconds &- last)) / 1e9))
            }
        }
        out.family(p + "crdt_sync_lag_operations", .gauge, help: "Operations this replica holds that a peer has not acknowledged.", lagOperations)
        out.family(p + "crdt_sync_lag_seconds", .gauge, help: "Seconds since a peer last acknowledged a sync.", lagSeconds)
        out.family(p + "fleet_quarantined_nodes", .gauge, help: "Nodes in the replicated quarantine set (mesh/quarantined), decided by any node.",
                   [(node, Double(replicated.entry(map: "mesh", key: "quarantined")?.values.count ?? 0))])
        out.family(p + "crdt_members", .gauge, help: "Replicas known as members (decommissioned ones excluded).",
                   [(node, Double(replicated.members.values.filter { $0.decommissionedAfter == nil }.count))])

        // Trust.
        out.family(p + "cert_verdicts_total", .counter, help: "Certificate verdicts, by verdict and reason (none for trusted).",
                   // Revocations start at zero so that the first one is an increase an alert sees.
                   keyed(counters.verdicts.merging(["rejected|revoked_crl": 0, "rejected|revoked_ocsp": 0]) { seen, _ in seen }, ["verdict", "reason"]))
        out.family(p + "cert_expiry_seconds", .gauge, help: "Seconds until each known certificate's notAfter (negative once expired).",
                   certificates.bySPIFFEID.sorted { $0.key < $1.key }.map { id, latest in
                       (node + [("spiffe_id", id), ("serial", latest.verdict.serial)], Double(latest.verdict.notAfter &- time.seconds))
                   })
        out.family(p + "cert_revoked", .gauge, help: "Serials known revoked.", [(node, Double(certificates.revokedSerials.count))])

        // The log.
        out.family(p + "log_head_seq", .gauge, help: "Sequence number of the last event.", [(node, Double(headSeq))])
        out.family(p + "events_total", .counter, help: "Events in the log, by type.",
                   counters.eventsByType.sorted { $0.key < $1.key }.map { (node + [("type", $0.key)], Double($0.value)) })
        out.family(p + "projection_malformed_events_total", .counter, help: "Events a projection skipped as malformed.",
                   malformed.sorted { $0.key < $1.key }.map { (node + [("projection", $0.key)], Double($0.value)) })
        if let store {
            out.family(p + "store_bytes", .gauge, help: "Bytes the store's files take on disk.", [(node, Double(store.bytesOnDisk))])
            out.family(p + "store_map_size_bytes", .gauge, help: "Size of the LMDB memory map.", [(node, Double(store.mapSize))])
            out.family(p + "store_map_used_bytes", .gauge, help: "Bytes of the memory map in use.", [(node, Double(store.mapUsed))])
            let lag = headSeq &- min(headSeq, store.indexCheckpoint)
            out.family(p + "index_lag_events", .gauge, help: "Events appended but not yet indexed.", [(node, Double(lag))])
        }
        return out.text
    }
}
