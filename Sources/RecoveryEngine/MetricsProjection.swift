import EventStore
import Healing
import Projections
import Replication
import Trust

/// `metrics`: the counters and histograms of the Prometheus exposition, as a pure function of
/// the log, so a copy of a store, or a past point of it, shows what the node reported then.
/// Gauges of current state (breaker state, open conflicts, certificate expiry) come from the
/// domains' own projections at the same point.
public struct MetricsProjection: Projection {
    public struct Counters: Sendable, Codable, Equatable {
        public var eventsByType: [String: UInt64] = [:]
        /// "kind|outcome|service" -> finished actions (service empty when the target is not one).
        public var actions: [String: UInt64] = [:]
        /// Kind -> durations of successful attempts.
        public var actionDurations: [String: Histogram] = [:]
        /// Actions planned and not yet finished: id -> "kind|service".
        public var running: [String: String] = [:]
        /// "breaker|to" -> transitions.
        public var breakerTransitions: [String: UInt64] = [:]
        /// Limiter -> throttled attempts.
        public var rateLimitRejections: [String: UInt64] = [:]
        public var cycleDurations = Histogram()
        /// monitor, analyze, plan, execute.
        public var phaseDurations: [String: Histogram] = [:]
        /// "symptom|service" -> detections.
        public var symptoms: [String: UInt64] = [:]
        /// Origin replica -> operations logged.
        public var crdtOperations: [String: UInt64] = [:]
        public var crdtConflicts: UInt64 = 0
        public var crdtTombstonesCollected: UInt64 = 0
        public var crdtOperationsCompacted: UInt64 = 0
        /// Peer -> time of its last acknowledgement (ns).
        public var lastSynced: [String: Int64] = [:]
        /// "verdict|reason" -> verdicts (reason `none` for trusted ones).
        public var verdicts: [String: UInt64] = [:]
        /// The most recent incidents by correlation id: when each started and the actions it
        /// caused (the dashboard's traces), at most `Incident.kept`.
        public var incidents: [String: Incident] = [:]
        /// "runbook|outcome" -> finished runs.
        public var runbookRuns: [String: UInt64] = [:]
        /// "policy|result|rule" -> decisions.
        public var policyDecisions: [String: UInt64] = [:]

        public init() {}

        enum CodingKeys: String, CodingKey {
            case eventsByType = "events_by_type", actions, actionDurations = "action_durations", running
            case breakerTransitions = "breaker_transitions", rateLimitRejections = "rate_limit_rejections"
            case cycleDurations = "cycle_durations", phaseDurations = "phase_durations", symptoms
            case crdtOperations = "crdt_operations", crdtConflicts = "crdt_conflicts"
            case crdtTombstonesCollected = "crdt_tombstones_collected", crdtOperationsCompacted = "crdt_operations_compacted"
            case lastSynced = "last_synced", verdicts, incidents
            case runbookRuns = "runbook_runs", policyDecisions = "policy_decisions"
        }
    }

    public struct Incident: Sendable, Codable, Equatable {
        /// How many incidents the metrics keep: the dashboard shows recent ones; the log has all.
        public static let kept = 20
        /// Nanoseconds since the epoch.
        public var started: Int64
        public var actions: UInt64 = 0
    }

    public typealias State = Tolerant<Counters>

    public init() {}

    public var name: String { "metrics" }
    /// 2: runbook runs and policy decisions.
    public var version: UInt32 { 2 }
    public var initialState: State { Tolerant(Counters()) }

    public func apply(_ event: Event, to state: inout State) {
        state.value.eventsByType[event.type, default: 0] &+= 1
        switch event.type {
        case HealingEvent.actionPlanned:
            state.applying(event) { c throws(PayloadError) in
                let p = try HealingPayload.Planned(event.data)
                let service = p.target.hasPrefix("service/") ? String(p.target.dropFirst("service/".count)) : ""
                c.running[p.action] = "\(p.kind)|\(service)"
                if let incident = event.correlation, c.incidents[incident] != nil { c.incidents[incident]?.actions &+= 1 }
            }
        case HealingEvent.actionSucceeded:
            state.applying(event) { c throws(PayloadError) in
                let p = try HealingPayload.Succeeded(event.data)
                let kindAndService = c.finish(p.action, outcome: "succeeded")
                c.actionDurations[String(kindAndService.prefix { $0 != "|" }), default: Histogram()].observe(milliseconds: Int64(p.durationMilliseconds))
            }
        case HealingEvent.actionFailed:
            state.applying(event) { c throws(PayloadError) in
                let p = try HealingPayload.Failed(event.data)
                if p.retryInMilliseconds == nil { _ = c.finish(p.action, outcome: "failed") }
            }
        case HealingEvent.actionRejected:
            state.applying(event) { c throws(PayloadError) in _ = c.finish(try HealingPayload.Rejected(event.data).action, outcome: "rejected") }
        case HealingEvent.breakerTransitioned:
            state.applying(event) { c throws(PayloadError) in
                let p = try HealingPayload.Transitioned(event.data)
                c.breakerTransitions["\(p.breaker)|\(p.to.rawValue)", default: 0] &+= 1
            }
        case HealingEvent.rateLimitThrottled:
            state.applying(event) { c throws(PayloadError) in c.rateLimitRejections[try HealingPayload.Throttled(event.data).limiter, default: 0] &+= 1 }
        case HealingEvent.cycle:
            state.applying(event) { c throws(PayloadError) in
                _ = try HealingPayload.Cycle(event.data)
                var total: Int64 = 0
                for phase in ["monitor", "analyze", "plan", "execute"] {
                    let ms = Int64(clamping: event.data["\(phase)_ms"]?.intValue ?? 0)
                    c.phaseDurations[phase, default: Histogram()].observe(milliseconds: ms)
                    total = total.addingReportingOverflow(ms).overflow ? Int64.max : total + ms
                }
                c.cycleDurations.observe(milliseconds: total)
            }
        case HealingEvent.symptomDetected:
            state.applying(event) { c throws(PayloadError) in
                let p = try HealingPayload.Symptom(event.data, detected: true)
                c.symptoms["\(p.symptom)|\(p.service ?? "")", default: 0] &+= 1
                if let incident = p.incident, !incident.isEmpty { c.open(incident, at: event.time.nanoseconds) }
            }
        case ReplicationEvent.op:
            let origin = event.stream.hasPrefix("replica/") ? String(event.stream.dropFirst("replica/".count)) : event.stream
            state.value.crdtOperations[origin, default: 0] &+= 1
        case ReplicationEvent.conflict:
            state.value.crdtConflicts &+= 1
        case ReplicationEvent.gc:
            state.applying(event) { c throws(PayloadError) in
                let d = try PayloadReader(event.data)
                c.crdtTombstonesCollected &+= UInt64(try d.optionalInt("tombstones_removed", in: 0...Int64.max) ?? 0)
                c.crdtOperationsCompacted &+= UInt64(try d.optionalInt("ops_compacted", in: 0...Int64.max) ?? 0)
            }
        case ReplicationEvent.synced:
            state.applying(event) { c throws(PayloadError) in c.lastSynced[try PayloadReader(event.data).string("peer")] = event.time.nanoseconds }
        case TrustEvent.verdict:
            state.applying(event) { c throws(PayloadError) in
                let verdict = try CertificateVerdict(payload: event.data)
                for reason in verdict.reasons.isEmpty ? ["none"] : verdict.reasons {
                    c.verdicts["\(verdict.trusted ? "trusted" : "rejected")|\(reason)", default: 0] &+= 1
                }
            }
        case RunbookEvent.finished:
            state.applying(event) { c throws(PayloadError) in
                let d = try PayloadReader(event.data)
                c.runbookRuns["\(try d.string("runbook"))|\(try d.string("outcome"))", default: 0] &+= 1
            }
        case "policy.decision":
            state.applying(event) { c throws(PayloadError) in
                let d = try PayloadReader(event.data)
                c.policyDecisions["\(try d.string("policy"))|\(try d.string("result"))|\(try d.string("rule"))", default: 0] &+= 1
            }
        default: return
        }
    }
}

extension MetricsProjection.Counters {
    /// Starts tracking `incident` (once), dropping the oldest beyond `Incident.kept`.
    mutating func open(_ incident: String, at time: Int64) {
        guard incidents[incident] == nil else { return }
        incidents[incident] = MetricsProjection.Incident(started: time)
        while incidents.count > MetricsProjection.Incident.kept,
              let oldest = incidents.min(by: { ($0.value.started, $0.key) < ($1.value.started, $1.key) }) {
            incidents[oldest.key] = nil
        }
    }

    /// Ends a running action with `outcome`; its "kind|service" ("unknown|" when its plan was
    /// not seen).
    mutating func finish(_ action: String, outcome: String) -> String {
        let kindAndService = running.removeValue(forKey: action) ?? "unknown|"
        let parts = kindAndService.split(separator: "|", omittingEmptySubsequences: false)
        actions["\(parts.first ?? "unknown")|\(outcome)|\(parts.count > 1 ? parts[1] : "")", default: 0] &+= 1
        return kindAndService
    }
}
