import EventStore

/// What the healing engine may ask about a peer's certificate. The agent answers it from the
/// Trust module's verdicts; Healing never imports Trust (ARCHITECTURE.md), so the question
/// and its answer are this protocol.
public protocol PeerTrust: Sendable {
    /// Whether `node`'s certificate is trusted at `time`, as far as the log knows.
    func standing(of node: String, at time: Timestamp) -> PeerStanding
}

/// A peer's standing, with the evidence for it.
public struct PeerStanding: Sendable, Hashable {
    public enum Verdict: String, Sendable, Hashable {
        case trusted, untrusted
        /// No verdict is known for the peer.
        case unknown
    }

    public var verdict: Verdict
    /// The failed checks (`cert.verdict` reasons) when untrusted.
    public var reasons: [String]
    /// The id and seq of the event that holds the verdict: an action it causes names it.
    public var evidenceID: String?
    public var evidenceSeq: UInt64?

    public init(_ verdict: Verdict, reasons: [String] = [], evidenceID: String? = nil, evidenceSeq: UInt64? = nil) {
        self.verdict = verdict
        self.reasons = reasons
        self.evidenceID = evidenceID
        self.evidenceSeq = evidenceSeq
    }
}

/// Told of every action that took effect, after its `action.succeeded` is durable: how an
/// agent shares its decisions (a quarantine written to the replicated quarantine set) without
/// Healing knowing how.
public protocol EffectListener: Sendable {
    func applied(_ effect: Action, actionID: String) async
}

extension Action {
    /// The node an action sends traffic to or brings back, which must be trusted for it to run:
    /// the new route of a switch, the node a release lets back in.
    var admittedPeer: String? {
        switch self {
        case .switchRoute(_, _, let to): return to
        case .release(let node): return node
        case .scale, .failover, .quarantine: return nil
        }
    }
}

extension HealingEngine {
    /// Quarantines every node of `nodes` whose certificate the log holds untrusted (revoked,
    /// expired, ...) and that is not quarantined already. Each action's causation is the
    /// verdict event, so the timeline shows the revocation next to the quarantine it caused.
    public func quarantineUntrusted(_ nodes: [String]) async throws(HealingError) -> [(id: String, action: Action, outcome: ActionOutcome)] {
        guard let trust = config.peerTrust else { return [] }
        try catchUp()
        var done: [(id: String, action: Action, outcome: ActionOutcome)] = []
        for node in nodes where !knowledge.topology.isQuarantined(node) {
            let standing = trust.standing(of: node, at: now)
            guard standing.verdict == .untrusted else { continue }
            let action = Action.quarantine(node: node, reason: "untrusted_certificate")
            let context = PlanContext(reason: "untrusted_certificate: " + standing.reasons.joined(separator: ","), causation: standing.evidenceID,
                                      causeSeq: standing.evidenceSeq, limiterKey: action.kind.rawValue)
            let (id, outcome) = try await planAndExecute(action, context: context)
            done.append((id, action, outcome))
        }
        return done
    }
}
