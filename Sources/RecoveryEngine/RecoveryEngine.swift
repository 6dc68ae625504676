import EventStore
import Healing
import Policies
import Projections
import Replication
import Trust

/// What an agent chooses when it opens the engine.
public struct EngineConfiguration: Sendable {
    /// The store's options; the domains' vocabularies are added to whatever is here.
    public var store = StoreOptions()
    public var healing = HealingConfig()
    /// Trust bundles, CRLs, pins and the rest; nil: no trust checks (every peer unknown).
    public var trust: ChainValidator?
    /// The SPIFFE ID a mesh node presents, from its name: what Healing's trust questions ask
    /// about. Default `spiffe://mesh.local/node/NAME`.
    public var peerIdentity: @Sendable (String) -> String = { "spiffe://mesh.local/node/\($0)" }
    /// The replicated set, in map `mesh`, that quarantines decided by any node are written to.
    public var quarantineSet = "quarantined"
    /// The policy every action must pass (its active version, from the log); nil: none.
    public var actionPolicy: String?
    /// How policies are evaluated: the built-in rules, or OPA (`OPAEvaluator`).
    public var policyEvaluator: any PolicyEvaluator = RuleEvaluator()

    public init() {}
}

/// The engine inside a node agent: one object holding the store, the healing engine, the
/// replica and the trust recorder, wired to each other through Healing's protocols (it asks
/// Trust whether a peer is trusted; its quarantines go to the replicated quarantine set).
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.trust = ChainValidator(bundles: ["mesh.local": bundle])
/// let engine = try await RecoveryEngine.open(at: "/var/lib/agent/store", configuration: configuration, actuator: myActuator)
/// let report = try await engine.healing.cycle(observations)
/// let text = try engine.metricsText()   // for an agent that already serves /metrics
/// engine.close()
/// ```
public final class RecoveryEngine: Sendable {
    public let store: EventStore
    public let healing: HealingEngine
    /// The replica of the shared state, one caller at a time: local writes and pulls.
    public let replica: SharedReplica
    /// A second replica on the same store that answers peers' sync requests. Answering never
    /// waits for this node's own pull: two nodes pulling from each other with one lock each
    /// would each hold what the other's answer needs.
    public let responder: SharedReplica
    /// Records every certificate verdict; nil when the configuration has no trust validator.
    public let trust: TrustRecorder?
    public let standings: CertificateStandings
    /// The replicated set (map `mesh`) quarantines are written to.
    public let quarantineSet: String
    let metrics: MetricsSource

    /// Opens (creating if missing) the store at `path`, builds the domains on it and wires them.
    public static func open(at path: String, configuration: EngineConfiguration, actuator: any Actuator,
                            sleeper: any Sleeper = SystemSleeper()) async throws -> RecoveryEngine {
        var options = configuration.store
        options.vocabularies += [HealingVocabulary(), ReplicationVocabulary(), TrustVocabulary()]
        let store = try EventStore.open(at: path, options: options)
        do {
            let replica = SharedReplica(Replica(log: try StoreLog(store: store)))
            let responder = SharedReplica(Replica(log: try StoreLog(store: store)))
            let standings = try CertificateStandings(store: store)
            var healingConfig = configuration.healing
            healingConfig.peerTrust = StandingsPeerTrust(standings: standings, identity: configuration.peerIdentity)
            healingConfig.effectListener = ReplicatedQuarantine(replica: replica, set: configuration.quarantineSet)
            if let policy = configuration.actionPolicy {
                let identity = configuration.peerIdentity
                healingConfig.actionPolicy = PolicyGate(book: try PolicyBook(store: store, evaluator: configuration.policyEvaluator), policy: policy) { node, time in
                    let spiffeID = identity(node)
                    guard let latest = try? standings.latest(spiffeID, at: time) else { return (spiffeID, "unknown") }
                    return (spiffeID, latest.verdict.trusted ? "trusted" : "untrusted")
                }
            }
            let healing = try await HealingEngine.open(store: store, config: healingConfig, actuator: actuator, sleeper: sleeper)
            let trust = configuration.trust.map { TrustRecorder(store: store, validator: $0) }
            return RecoveryEngine(store: store, healing: healing, replica: replica, responder: responder, trust: trust, standings: standings,
                                  quarantineSet: configuration.quarantineSet, metrics: try MetricsSource(store: store))
        } catch {
            store.close()
            throw error
        }
    }

    init(store: EventStore, healing: HealingEngine, replica: SharedReplica, responder: SharedReplica, trust: TrustRecorder?, standings: CertificateStandings,
         quarantineSet: String, metrics: MetricsSource) {
        self.store = store
        self.healing = healing
        self.replica = replica
        self.responder = responder
        self.trust = trust
        self.standings = standings
        self.quarantineSet = quarantineSet
        self.metrics = metrics
    }

    /// The Prometheus text exposition of this node now (format 0.0.4), for an agent that
    /// serves its own `/metrics`: the projections catch up incrementally, so a scrape costs
    /// the events since the last one.
    public func metricsText() throws(ProjectionError) -> String { try metrics.snapshot().render() }

    /// Whether every projection the metrics read has caught up with the log's head.
    public func isCaughtUp() -> Bool { metrics.isCaughtUp() }

    /// The nodes the fleet has quarantined, as the replicated set holds them.
    public func replicatedQuarantine() throws(ReplicationError) -> [String] {
        try replica.run { replica throws(ReplicationError) in try replica.values(map: "mesh", key: quarantineSet) }.compactMap(\.stringValue).sorted()
    }

    /// Closes the store: its writer and index threads stop; nothing is left running.
    public func close() { store.close() }
}

/// Healing's trust questions, answered from the log's certificate verdicts.
struct StandingsPeerTrust: PeerTrust {
    let standings: CertificateStandings
    let identity: @Sendable (String) -> String

    func standing(of node: String, at time: Timestamp) -> PeerStanding {
        guard let latest = try? standings.latest(identity(node), at: time) else { return PeerStanding(.unknown) }
        return PeerStanding(latest.verdict.trusted ? .trusted : .untrusted, reasons: latest.verdict.reasons,
                            evidenceID: latest.eventID, evidenceSeq: latest.seq)
    }
}

/// Writes each quarantine and release that took effect to the replicated add-wins set, so the
/// other nodes learn of it at their next sync.
struct ReplicatedQuarantine: EffectListener {
    let replica: SharedReplica
    let set: String

    func applied(_ effect: Action, actionID: String) async {
        // A failed write is not the action's failure: the effect happened, and the next
        // quarantine or release writes the set again.
        switch effect {
        case .quarantine(let node, _): _ = try? replica.run { replica throws(ReplicationError) in try replica.add(map: "mesh", set: set, element: .string(node)) }
        case .release(let node): _ = try? replica.run { replica throws(ReplicationError) in try replica.remove(map: "mesh", set: set, element: .string(node)) }
        case .switchRoute, .scale, .failover: break
        }
    }
}

/// A `Replica` (which is not thread-safe) shared by the healing engine, the sync endpoint and
/// anti-entropy: each call runs alone.
public final class SharedReplica: @unchecked Sendable {
    // @unchecked: `replica` is only touched under `lock`.
    private let lock = Mutex()
    private let replica: Replica

    public init(_ replica: Replica) { self.replica = replica }

    /// Runs `body` with the replica while no other caller has it.
    public func run<T, E: Error>(_ body: (Replica) throws(E) -> T) throws(E) -> T {
        try lock.withLock { () throws(E) -> T in try body(replica) }
    }
}
