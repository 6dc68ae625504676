import EventStore
import Projections

/// The event types of runbooks (EVENTS.md, runbooks and policies).
public enum RunbookEvent {
    public static let published = "runbook.published"
    public static let activated = "runbook.activated"
    public static let started = "runbook.started"
    public static let finished = "runbook.finished"

    public static func stream(_ runbook: String) -> String { "runbook/\(runbook)" }
    /// Runs go to a stream of their own: a publisher's expected version of `runbook/NAME` does
    /// not race with the runs of agents.
    public static func runStream(_ runbook: String) -> String { "runbook/\(runbook)/runs" }
}

/// Every runbook's published versions and active one, and what the limits need of its runs:
/// those in flight and the last start per subject.
public struct RunbooksProjection: Projection {
    public struct Run: Sendable, Codable, Equatable {
        public var runbook: String
        public var version: Int
        public var subject: String
        public var startedSeq: UInt64
    }

    public struct Runbooks: Sendable, Codable, Equatable {
        public var runbooks: [String: VersionedDocument] = [:]
        /// Run id -> run, for runs started and not finished.
        public var inFlight: [String: Run] = [:]
        /// "runbook|subject" -> the time (ns) the last run for it started.
        public var lastStart: [String: Int64] = [:]
        public var runs = 0
        public var outcomes: [String: Int] = [:]

        enum CodingKeys: String, CodingKey { case runbooks, inFlight = "in_flight", lastStart = "last_start", runs, outcomes }
    }

    public typealias State = Tolerant<Runbooks>

    /// How runbooks are versioned in the log.
    public static let documents = VersionedDocuments(kind: "runbook") { (try? RunbookDocument(value: $0))?.name }

    public init() {}

    public var name: String { "runbooks" }
    public var version: UInt32 { 1 }
    public var initialState: State { Tolerant(Runbooks()) }
    public var fields: EventFields { [.payload] }

    public func apply(_ event: Event, to state: inout State) {
        switch event.type {
        case RunbookEvent.published, RunbookEvent.activated:
            state.applying(event) { value throws(PayloadError) in try Self.documents.apply(event, to: &value.runbooks) }
        case RunbookEvent.started:
            state.applying(event) { value throws(PayloadError) in
                let d = try PayloadReader(event.data)
                let name = try d.string("runbook"), run = try d.string("run"), subject = try d.string("symptom")
                let version = try d.int("version", in: 0...1_000_000)
                value.inFlight[run] = Run(runbook: name, version: Int(version), subject: subject, startedSeq: event.seq)
                value.lastStart["\(name)|\(subject)"] = event.time.nanoseconds
                value.runs.addSaturated(1)
            }
        case RunbookEvent.finished:
            state.applying(event) { value throws(PayloadError) in
                let d = try PayloadReader(event.data)
                let run = try d.string("run"), outcome = try d.string("outcome")
                value.inFlight[run] = nil
                value.outcomes[outcome, default: 0].addSaturated(1)
            }
        default:
            return
        }
    }
}

extension VersionedDocument {
    /// The active version's document, nil when none is active (or it no longer reads).
    var activeRunbook: RunbookDocument? {
        guard let active, let stored = versions[String(active)] else { return nil }
        return try? RunbookDocument(value: stored.document)
    }
}
