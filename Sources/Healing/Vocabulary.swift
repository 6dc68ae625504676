import EventStore

/// The healing event types of EVENTS.md.
public enum HealingEvent {
    public static let symptomDetected = "symptom.detected"
    public static let symptomCleared = "symptom.cleared"
    public static let actionPlanned = "action.planned"
    public static let actionStarted = "action.started"
    public static let actionSucceeded = "action.succeeded"
    public static let actionFailed = "action.failed"
    public static let actionRejected = "action.rejected"
    public static let breakerTransitioned = "breaker.transitioned"
    public static let rateLimitThrottled = "ratelimit.throttled"
    public static let rollbackStarted = "rollback.started"
    public static let rollbackCompleted = "rollback.completed"
    public static let cycle = "mapek.cycle"
    public static let topologyDeclared = "topology.declared"
}

extension EventValue {
    /// An integer field as Int (0 when absent or mistyped: payloads are input).
    func int(_ key: String) -> Int { self[key]?.intValue.map { Int(truncatingIfNeeded: $0) } ?? 0 }
    func string(_ key: String) -> String { self[key]?.stringValue ?? "" }
}
