import EventStore

/// The typed payloads of the healing events: each event type is read here and nowhere else,
/// with a `PayloadError` naming the field for anything missing, mistyped or out of range. The
/// projections decode through these (and skip and count what fails), and `HealingVocabulary`
/// refuses the same malformed events at append and import.
public enum HealingPayload {
    /// Bounds on numbers from the log, chosen so that no sum or product of them can overflow.
    public enum Bounds {
        public static let attempt: ClosedRange<Int64> = 1...1_000_000
        /// A rate-limit window: at most a year.
        public static let windowSeconds: ClosedRange<Int64> = 1...31_536_000
        /// A duration or delay: at most a year, in milliseconds.
        public static let milliseconds: ClosedRange<Int64> = 0...31_536_000_000
        public static let count: ClosedRange<Int64> = 0...1_000_000_000
        /// A rate limit's quota: the limiter keeps this many attempts per key.
        public static let limit: ClosedRange<Int64> = 0...100_000
        public static let seq: ClosedRange<Int64> = 0...Int64.max
    }

    public struct Symptom: Sendable, Equatable {
        public var symptom: String
        /// The engine's symptom key (`rule|scope|subject`); older or foreign events may lack it.
        public var key: String?
        public var node: String?
        public var service: String?
        public var incident: String?
        /// Present on `symptom.detected`.
        public var metric: String?
        public var value: Double?
        public var threshold: Double?

        /// The key the loop tracks the symptom by: its own, else one made from its parts.
        public var trackingKey: String { key ?? "\(symptom)|\(node ?? "")|\(service ?? "")" }

        public init(_ data: EventValue, detected: Bool) throws(PayloadError) {
            let d = try PayloadReader(data)
            symptom = try d.string("symptom")
            key = try d.optionalString("key")
            node = try d.optionalString("node")
            service = try d.optionalString("service")
            incident = try d.optionalString("incident")
            if detected {
                metric = try d.string("metric")
                value = try d.number("value")
                threshold = try d.number("threshold")
            }
        }
    }

    /// The guards an action event names; `limiter` and `window_s` come together.
    public struct Guards: Sendable, Equatable {
        public var breaker: String?
        public var limiter: String?
        public var windowSeconds: Int?
        /// The quota the attempt was admitted under (`action.started`).
        public var limit: Int?

        init(_ d: PayloadReader, window: Bool) throws(PayloadError) {
            breaker = try d.optionalString("breaker")
            limiter = try d.optionalString("limiter")
            if window {
                windowSeconds = try d.optionalInt("window_s", in: Bounds.windowSeconds)
                limit = try d.optionalInt("limit", in: Bounds.limit)
                if (limiter == nil) != (windowSeconds == nil) {
                    throw PayloadError(field: limiter == nil ? "data.limiter" : "data.window_s", message: "limiter and window_s go together")
                }
            }
        }
    }

    public struct Planned: Sendable, Equatable {
        public var action: String
        public var kind: String
        public var target: String
        public var params: EventValue
        public var reason: String
        public var guards: Guards
        public var symptomKey: String?
        public var compensates: String?
        public var inverse: EventValue?

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            action = try d.string("action")
            kind = try d.string("kind")
            target = try d.string("target")
            params = try d.object("params").document
            do throws(HealingError) { _ = try Action(kind: kind, params: params) } catch {
                throw PayloadError(field: "data.params", message: error.description)
            }
            reason = try d.text("reason")
            guards = try Guards(d, window: false)
            symptomKey = try d.optionalString("symptom_key")
            compensates = try d.optionalString("compensates")
            inverse = try d.optionalObject("inverse")?.document
        }
    }

    public struct Started: Sendable, Equatable {
        public var action: String
        public var attempt: Int
        public var guards: Guards

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            action = try d.string("action")
            attempt = try d.int("attempt", in: Bounds.attempt)
            guards = try Guards(d, window: true)
        }
    }

    public struct Succeeded: Sendable, Equatable {
        public var action: String
        public var attempt: Int
        public var durationMilliseconds: Int
        /// The state change that was applied.
        public var effect: Action
        public var guards: Guards

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            action = try d.string("action")
            attempt = try d.int("attempt", in: Bounds.attempt)
            durationMilliseconds = try d.int("duration_ms", in: Bounds.milliseconds)
            let effectData = try d.object("effect")
            do throws(HealingError) { effect = try Action(document: effectData.document) } catch {
                throw PayloadError(field: "data.effect", message: error.description)
            }
            guards = try Guards(d, window: false)
        }
    }

    public struct Failed: Sendable, Equatable {
        public var action: String
        public var attempt: Int
        public var error: String
        public var retryable: Bool
        public var durationMilliseconds: Int
        /// Present when the engine will try again after this delay.
        public var retryInMilliseconds: Int?
        public var guards: Guards

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            action = try d.string("action")
            attempt = try d.int("attempt", in: Bounds.attempt)
            error = try d.text("error")
            retryable = try d.bool("retryable")
            durationMilliseconds = try d.optionalInt("duration_ms", in: Bounds.milliseconds) ?? 0
            retryInMilliseconds = try d.optionalInt("retry_in_ms", in: Bounds.milliseconds)
            guards = try Guards(d, window: false)
        }
    }

    public struct Rejected: Sendable, Equatable {
        public var action: String
        public var reason: String
        public var guards: Guards

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            action = try d.string("action")
            reason = try d.string("reason")
            guards = try Guards(d, window: false)
        }
    }

    public struct Transitioned: Sendable, Equatable {
        public var breaker: String
        public var from: BreakerPhase?
        public var to: BreakerPhase
        public var failures: Int
        public var successes: Int
        public var reason: String
        public var operatorName: String?

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            func phase(_ key: String) throws(PayloadError) -> BreakerPhase? {
                guard let text = try d.optionalString(key) else { return nil }
                guard let phase = BreakerPhase(rawValue: text) else {
                    throw PayloadError(field: "data.\(key)", message: "'\(text)' is not a breaker state (\(BreakerPhase.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                return phase
            }
            breaker = try d.string("breaker")
            from = try phase("from")
            guard let to = try phase("to") else { throw PayloadError(field: "data.to", message: "is required (a breaker state)") }
            self.to = to
            failures = try d.optionalInt("failures", in: Bounds.count) ?? 0
            successes = try d.optionalInt("successes", in: Bounds.count) ?? 0
            reason = try d.text("reason")
            operatorName = try d.optionalString("operator")
        }
    }

    public struct Throttled: Sendable, Equatable {
        public var limiter: String
        public var limit: Int
        public var windowSeconds: Int
        public var inWindow: Int

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            limiter = try d.string("limiter")
            limit = try d.int("limit", in: Bounds.count)
            windowSeconds = try d.int("window_s", in: Bounds.windowSeconds)
            inWindow = try d.int("in_window", in: Bounds.count)
        }
    }

    public struct RollbackStarted: Sendable, Equatable {
        public var toSeq: UInt64
        public var scope: String
        public var correlation: String?

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            toSeq = UInt64(try d.int("to_seq", in: Bounds.seq))
            scope = try d.string("scope")
            correlation = try d.optionalString("correlation")
            _ = try d.optionalArray("actions") { item, path throws(PayloadError) in try PayloadReader(item, path: path) }
        }
    }

    public struct RollbackCompleted: Sendable, Equatable {
        public var toSeq: UInt64
        public var restored: [String]

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            toSeq = UInt64(try d.int("to_seq", in: Bounds.seq))
            restored = try d.optionalArray("restored") { item, path throws(PayloadError) in
                guard let text = item.stringValue else { throw PayloadError(field: path, message: "must be a string") }
                return text
            } ?? []
            _ = try d.optionalArray("not_restored") { item, path throws(PayloadError) in try PayloadReader(item, path: path) }
        }
    }

    public struct Cycle: Sendable, Equatable {
        public var cycle: Int

        public init(_ data: EventValue) throws(PayloadError) {
            let d = try PayloadReader(data)
            cycle = try d.int("cycle", in: Bounds.seq)
            for phase in ["monitor_ms", "analyze_ms", "plan_ms", "execute_ms"] {
                if let ms = try d.optionalNumber(phase), ms < 0 { throw PayloadError(field: "data.\(phase)", message: "must not be negative") }
            }
            _ = try d.optionalInt("symptoms", in: Bounds.count)
            _ = try d.optionalInt("actions", in: Bounds.count)
        }
    }
}

extension Topology {
    /// Reads a `topology.declared` payload; every part is optional, and typed when present.
    public init(payload data: EventValue) throws(PayloadError) {
        let d = try PayloadReader(data)
        func entries(_ key: String) throws(PayloadError) -> [String: EventValue] {
            try d.optionalObject(key)?.fields ?? [:]
        }
        var topology = Topology()
        for (k, v) in try entries("routes") {
            guard let s = v.stringValue, !s.isEmpty else { throw PayloadError(field: "data.routes.\(k)", message: "must be a non-empty string") }
            topology.routes[k] = s
        }
        for (k, v) in try entries("replicas") {
            guard let i = v.intValue, (0...1_000_000).contains(i) else {
                throw PayloadError(field: "data.replicas.\(k)", message: "must be an integer from 0 to 1000000")
            }
            topology.replicas[k] = Int(i)
        }
        for (k, v) in try entries("regions") {
            guard let s = v.stringValue, !s.isEmpty else { throw PayloadError(field: "data.regions.\(k)", message: "must be a non-empty string") }
            topology.regions[k] = s
        }
        let quarantined: [String] = try d.optionalArray("quarantined") { item, path throws(PayloadError) -> String in
            guard let s = item.stringValue, !s.isEmpty else { throw PayloadError(field: path, message: "must be a non-empty string") }
            return s
        } ?? []
        topology.quarantined = Set(quarantined).sorted()
        self = topology
    }
}

/// The healing vocabulary of EVENTS.md and the README: a store opened with it refuses a
/// malformed healing event at append and import, so no such event enters a log through us.
public struct HealingVocabulary: EventVocabulary {
    public init() {}

    public func validate(type: String, data: EventValue) throws(PayloadError) {
        switch type {
        case HealingEvent.symptomDetected: _ = try HealingPayload.Symptom(data, detected: true)
        case HealingEvent.symptomCleared: _ = try HealingPayload.Symptom(data, detected: false)
        case HealingEvent.actionPlanned: _ = try HealingPayload.Planned(data)
        case HealingEvent.actionStarted: _ = try HealingPayload.Started(data)
        case HealingEvent.actionSucceeded: _ = try HealingPayload.Succeeded(data)
        case HealingEvent.actionFailed: _ = try HealingPayload.Failed(data)
        case HealingEvent.actionRejected: _ = try HealingPayload.Rejected(data)
        case HealingEvent.breakerTransitioned: _ = try HealingPayload.Transitioned(data)
        case HealingEvent.rateLimitThrottled: _ = try HealingPayload.Throttled(data)
        case HealingEvent.rollbackStarted: _ = try HealingPayload.RollbackStarted(data)
        case HealingEvent.rollbackCompleted: _ = try HealingPayload.RollbackCompleted(data)
        case HealingEvent.cycle: _ = try HealingPayload.Cycle(data)
        case HealingEvent.topologyDeclared: _ = try Topology(payload: data)
        default: return
        }
    }
}
