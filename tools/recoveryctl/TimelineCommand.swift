import ArgumentParser
import EventStore
import Foundation
import Healing

struct TimelineCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "timeline", abstract: "Forensic timelines for incident responders.", subcommands: [Export.self])

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export a timeline in Timesketch's import format (JSONL or CSV), merged from one or more stores in hybrid-logical-clock order.",
            discussion: "Every row has message (a sentence), datetime (ISO 8601 with time zone) and timestamp_desc, then the envelope fields (id, seq, node, stream, type, correlation, causation, prev, hash) and the payload fields flattened (data.service, data.params.to). Several --store options merge several nodes' stores into one fleet timeline. Streams in constant memory (CSV reads the stores twice, for its columns).")

        @Option(name: .customLong("store"), help: "A store (repeatable: a fleet view; default $RECOVERY_STORE, else ./recovery-store).") var stores: [String] = []
        @OptionGroup var filters: QueryFilters
        @Option(help: "jsonl, csv, or html (one self-contained page: a lane per node, zoom, filter, details).") var format: TimelineFormat = .jsonl
        @Option(name: [.short, .long], help: "Write to this file instead of standard output.") var output: String?

        enum TimelineFormat: String, ExpressibleByArgument, CaseIterable { case jsonl, csv, html }

        func run() throws {
            guard !filters.reverse else { throw CLIFailure.usage("a timeline runs oldest first: --reverse does not apply") }
            let paths = stores.isEmpty ? [GlobalArguments.defaultStorePath] : stores
            var options = GlobalArguments.options
            options.create = false
            var opened: [EventStore] = []
            for path in paths {
                do { opened.append(try EventStore.open(at: path, options: options)) } catch {
                    for store in opened { store.close() }
                    throw CLIFailure(error)
                }
            }
            defer { for store in opened { store.close() } }
            let query = try filters.makeQuery()
            for store in opened { try noteArchives(of: store, from: query.fromSeq) }
            var sink = OutputSink()
            if let output {
                sink = try OutputSink(creating: output)
            }
            var columns: [String] = []
            if format == .csv {
                var keys = Set<String>()
                try storeCall { try merged(opened, query) { keys.formUnion(TimesketchRow($0).data.map(\.0)) } }
                columns = TimesketchRow.fixedColumns + keys.sorted()
                sink.write(columns.map(csvField).joined(separator: ",") + "\n")
            }
            if format == .html { sink.write(TimelineHTML.head(title: "RecoveryEngine timeline: " + paths.joined(separator: ", "))) }
            var first = true
            try storeCall {
                try merged(opened, query) { event in
                    let row = TimesketchRow(event)
                    switch format {
                    case .csv: sink.write(row.csv(columns) + "\n")
                    case .jsonl: sink.write(row.jsonl + "\n")
                    case .html: sink.write(TimelineHTML.row(row, first: first))
                    }
                    first = false
                }
            }
            if format == .html { sink.write(TimelineHTML.tail) }
            sink.flush()
        }

        /// Calls `body` with the events of every store matching `query`, in hybrid-logical-clock
        /// order (wall, logical, node), one event per store held at a time.
        func merged(_ stores: [EventStore], _ query: EventQuery, _ body: (Event) throws -> Void) throws {
            var iterators = stores.map { $0.query(query).makeIterator() }
            var heads: [Event?] = try iterators.indices.map { try iterators[$0].next() }
            while let index = heads.indices.filter({ heads[$0] != nil }).min(by: { a, b in
                guard let x = heads[a], let y = heads[b] else { return false }
                return (x.hlc.wall, x.hlc.logical, x.node) < (y.hlc.wall, y.hlc.logical, y.node)
            }), let event = heads[index] {
                try body(event)
                heads[index] = try iterators[index].next()
            }
        }
    }
}

/// One timeline row in Timesketch's import format.
struct TimesketchRow {
    static let fixedColumns = ["message", "datetime", "timestamp_desc", "id", "seq", "node", "stream", "type", "correlation", "causation", "prev", "hash"]

    let event: Event
    /// Payload fields flattened: `data.service`, `data.params.to`; arrays as JSON.
    let data: [(String, EventValue)]

    init(_ event: Event) {
        self.event = event
        var flat: [(String, EventValue)] = []
        func flatten(_ value: EventValue, _ name: String) {
            if case .map(let fields) = value, !fields.isEmpty {
                for key in fields.keys.sorted() { flatten(fields[key] ?? .null, name + "." + key) }
            } else {
                flat.append((name, value))
            }
        }
        flatten(event.data, "data")
        data = flat
    }

    /// ISO 8601 with microseconds and the time zone, as Timesketch reads it.
    var datetime: String {
        let text = event.time.rfc3339
        return String(text.prefix(26)) + "+00:00"
    }

    var fixed: [(String, EventValue)] {
        [("message", .string(TimelineSentence.message(event))), ("datetime", .string(datetime)),
         ("timestamp_desc", .string(TimelineSentence.timestampDescription(event.type))), ("id", .string(event.id)),
         ("seq", .int(Int64(clamping: event.seq))), ("node", .string(event.node)), ("stream", .string(event.stream)), ("type", .string(event.type)),
         ("correlation", event.correlation.map { .string($0) } ?? .null), ("causation", event.causation.map { .string($0) } ?? .null),
         ("prev", .string(event.prev.hex)), ("hash", .string(event.hash.hex))]
    }

    var jsonl: String {
        var writer = JSONWriter()
        writer.raw("{")
        for (index, (name, value)) in (fixed + data).enumerated() {
            if index > 0 { writer.raw(",") }
            writer.string(name)
            writer.raw(":")
            writer.value(value)
        }
        writer.raw("}")
        return writer.text
    }

    func csv(_ columns: [String]) -> String {
        var values: [String: EventValue] = [:]
        for (name, value) in fixed + data { values[name] = value }
        return columns.map { column in
            switch values[column] {
            case nil, .some(.null): return ""
            case .some(.string(let text)): return csvField(text)
            case .some(let other): return csvField(JSONWriter.encode(other))
            }
        }.joined(separator: ",")
    }
}

/// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
func csvField(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
    return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// The sentences a person reads in a timeline, per event type.
enum TimelineSentence {
    static func message(_ e: Event) -> String {
        let d = e.data
        func text(_ key: String) -> String { d[key]?.stringValue ?? d[key].map { JSONWriter.encode($0) } ?? "?" }
        switch e.type {
        case HealingEvent.symptomDetected:
            return "Symptom \(text("symptom")) detected on \(d["service"]?.stringValue ?? d["node"]?.stringValue ?? "?") (\(text("metric")) \(text("value")), threshold \(text("threshold")))"
        case HealingEvent.symptomCleared: return "Symptom \(text("symptom")) cleared on \(d["service"]?.stringValue ?? d["node"]?.stringValue ?? "?")"
        case HealingEvent.actionPlanned: return "Planned \(text("kind")) of \(text("target")) because \(text("reason")) (action \(text("action")))"
        case HealingEvent.actionStarted: return "Action \(text("action")) started, attempt \(text("attempt"))"
        case HealingEvent.actionSucceeded: return "Action \(text("action")) succeeded on attempt \(text("attempt")) in \(text("duration_ms")) ms"
        case HealingEvent.actionFailed: return "Action \(text("action")) failed on attempt \(text("attempt")): \(text("error"))"
        case HealingEvent.actionRejected: return "Action \(text("action")) was refused: \(text("reason"))"
        case HealingEvent.breakerTransitioned:
            let to = text("to")
            let verb = to == "open" ? "opened" : to == "closed" ? "closed" : to == "half_open" ? "half-opened" : "moved to \(to)"
            return "Circuit breaker \(text("breaker")) \(verb) (\(text("reason")), \(text("failures")) failures)"
        case HealingEvent.rateLimitThrottled: return "Rate limiter \(text("limiter")) refused action \(text("action")): \(text("in_window")) of \(text("limit")) in \(text("window_s")) s"
        case HealingEvent.rollbackStarted: return "Rollback to seq \(text("to_seq")) started"
        case HealingEvent.rollbackCompleted: return "Rollback to seq \(text("to_seq")) completed"
        case HealingEvent.cycle: return "MAPE-K cycle \(text("cycle")): \(text("symptoms")) symptoms, \(text("actions")) actions"
        case HealingEvent.topologyDeclared: return "Topology declared"
        case "cert.verdict": return "Certificate \(text("spiffe_id")) (serial \(text("serial"))) \(text("verdict"))" + (d["reasons"].map { " for \(JSONWriter.encode($0))" } ?? "")
        case "trust.bundle_updated": return "Trust bundle of \(text("trust_domain")) replaced (\(text("certificates")) certificates)"
        case "crdt.op": return "Replicated write from \(e.stream.replacingOccurrences(of: "replica/", with: ""))"
        case "crdt.synced": return "Synced with \(text("peer"))"
        case "store.backup": return "Store backed up through seq \(text("head_seq")) to \(text("to"))"
        case "store.drill": return "Disaster-recovery drill: verified \(text("verified")), digests match \(text("digests_match"))"
        case "runbook.published": return "Runbook \(text("runbook")) version \(text("version")) published"
        case "runbook.activated": return "Runbook \(text("runbook")) version \(text("version")) activated"
        case "runbook.started": return "Runbook \(text("runbook")) run \(text("run")) started for \(text("symptom"))"
        case "runbook.finished": return "Runbook \(text("runbook")) run \(text("run")) \(text("outcome"))"
        case "policy.published": return "Policy \(text("policy")) version \(text("version")) published"
        case "policy.activated": return "Policy \(text("policy")) version \(text("version")) activated"
        case "policy.decision":
            let input = d["input"]
            let asked = input?["subject"] == "peer" ? "peer \(input?["peer"]?["spiffe_id"]?.stringValue ?? "?")" : "\(input?["action"]?["kind"]?.stringValue ?? "?") on \(input?["action"]?["target"]?.stringValue ?? "?")"
            return "Policy \(text("policy")) version \(text("version")): \(text("result")) \(asked) (rule \(text("rule")))"
        case "store.archived": return "Events \(text("first_seq")) to \(text("through_seq")) archived to \(text("archive"))"
        default: return "\(e.type) on \(e.stream)"
        }
    }

    static func timestampDescription(_ type: String) -> String {
        switch type {
        case HealingEvent.symptomDetected: return "Symptom Detected"
        case HealingEvent.symptomCleared: return "Symptom Cleared"
        case HealingEvent.actionPlanned: return "Action Planned"
        case HealingEvent.actionStarted: return "Action Started"
        case HealingEvent.actionSucceeded, HealingEvent.actionFailed: return "Action Finished"
        case HealingEvent.actionRejected: return "Action Refused"
        case HealingEvent.breakerTransitioned: return "Breaker Transition"
        case "cert.verdict": return "Certificate Validated"
        case "policy.decision": return "Policy Decided"
        case "policy.published", "policy.activated": return "Policy Changed"
        case "runbook.published", "runbook.activated": return "Runbook Changed"
        case "runbook.started": return "Runbook Started"
        case "runbook.finished": return "Runbook Finished"
        default: return "Event Recorded"
        }
    }
}
