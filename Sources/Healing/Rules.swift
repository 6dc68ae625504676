import EventStore

/// One measurement fed to the monitor phase. Observations are not logged; symptoms are.
public struct Observation: Sendable, Hashable {
    public var node: String?
    public var service: String?
    /// `latency_ms`, `error_rate` or `availability` (or any name a rule uses).
    public var metric: String
    public var value: Double

    public init(node: String? = nil, service: String? = nil, metric: String, value: Double) {
        self.node = node
        self.service = service
        self.metric = metric
        self.value = value
    }
}

/// A threshold with hysteresis: fires once when crossed, clears only when back past `clearAt`.
public struct SymptomRule: Sendable, Hashable {
    public enum Scope: String, Sendable { case node, service }
    public var name: String
    public var metric: String
    public var scope: Scope
    /// True: fires above `threshold`; false: fires below it.
    public var firesAbove: Bool
    public var threshold: Double
    public var clearAt: Double

    public init(name: String, metric: String, scope: Scope, firesAbove: Bool, threshold: Double, clearAt: Double) {
        self.name = name
        self.metric = metric
        self.scope = scope
        self.firesAbove = firesAbove
        self.threshold = threshold
        self.clearAt = clearAt
    }

    func fires(_ value: Double) -> Bool { firesAbove ? value > threshold : value < threshold }
    func clears(_ value: Double) -> Bool { firesAbove ? value < clearAt : value > clearAt }

    func subject(_ o: Observation) -> String? { scope == .node ? o.node : o.service }

    /// The key of the symptom this rule raises for an observation's subject.
    func key(_ subject: String) -> String { "\(name)|\(scope.rawValue)|\(subject)" }
}

/// What the plan phase sees of a symptom.
public struct SymptomContext: Sendable {
    public var rule: String
    public var node: String?
    public var service: String?
    public var key: String
}

/// Everything that shapes the engine's decisions. The same config over the same log gives the
/// same decisions, which is what makes a restarted engine continue exactly.
public struct HealingConfig: Sendable {
    /// Seeds retry jitter (with the action id and attempt).
    public var seed: UInt64 = 0
    public var breaker = BreakerConfig()
    public var limits = RateLimits()
    public var retry = RetryPolicy()
    public var symptoms: [SymptomRule] = HealingConfig.defaultSymptoms
    /// What the plan phase answers symptoms with: the default runbooks unless changed. A
    /// runbook active in the log replaces the one of the same name here, from the next cycle.
    public var runbooks: [RunbookDocument] = RunbookDocument.defaults
    /// Regions a service can fail over to, in order of preference.
    public var regions: [String] = []
    /// Alternative routes per destination, in order of preference.
    public var alternateRoutes: [String: [String]] = [:]
    /// The stream and node tag of this agent's `mapek.cycle` events.
    public var agent = "agent"
    /// Asked before an action sends traffic to a peer or lets one back in; an untrusted peer
    /// rejects the action (`peer_untrusted`). Nil: no certificate checks.
    public var peerTrust: (any PeerTrust)?
    /// Asked before every action runs; a deny rejects it (`policy_denied`), and the decision
    /// is recorded with the action. Nil: no policy checks.
    public var actionPolicy: (any ActionPolicy)?
    /// Told of each action that took effect (nil: nobody).
    public var effectListener: (any EffectListener)?

    public init(seed: UInt64 = 0, regions: [String] = [], alternateRoutes: [String: [String]] = [:]) {
        self.seed = seed
        self.regions = regions
        self.alternateRoutes = alternateRoutes
    }

    public static let defaultSymptoms: [SymptomRule] = [
        SymptomRule(name: "service_unavailable", metric: "availability", scope: .service, firesAbove: false, threshold: 0.5, clearAt: 0.9),
        SymptomRule(name: "high_error_rate", metric: "error_rate", scope: .service, firesAbove: true, threshold: 0.2, clearAt: 0.05),
        SymptomRule(name: "high_latency", metric: "latency_ms", scope: .service, firesAbove: true, threshold: 500, clearAt: 200),
        SymptomRule(name: "node_unavailable", metric: "availability", scope: .node, firesAbove: false, threshold: 0.5, clearAt: 0.9),
    ]
}
