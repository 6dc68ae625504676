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

extension Int64 {
    /// `self - other`, held at the ends of the range: times come from the log, and an event
    /// dated 1677 or 2262 must not trap a window or a breaker's wait.
    func saturatingMinus(_ other: Int64) -> Int64 {
        let (difference, overflow) = subtractingReportingOverflow(other)
        return overflow ? (other > 0 ? .min : .max) : difference
    }
}

extension Int {
    /// Whole seconds as nanoseconds, held at `Int64.max`.
    var secondsAsNanoseconds: Int64 {
        let (product, overflow) = Int64(clamping: self).multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? (self > 0 ? .max : .min) : product
    }
}

extension Timestamp {
    /// Milliseconds from `start` to here for a payload's duration: a wall clock that stepped
    /// back gives 0, never a negative duration, and the result stays within the payload bound.
    func milliseconds(since start: Timestamp) -> Int {
        let elapsed = Swift.max(0, nanoseconds.saturatingMinus(start.nanoseconds)) / 1_000_000
        return Int(Swift.min(elapsed, HealingPayload.Bounds.milliseconds.upperBound))
    }
}
