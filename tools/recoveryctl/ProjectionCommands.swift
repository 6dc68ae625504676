import ArgumentParser
import EventStore
import Foundation
import Healing
import Replication
import Trust
import Policies
import Projections
import RecoveryEngine

/// The projections recoveryctl knows by name.
enum Catalog {
    static let projections = ProjectionRegistry.generic.adding(ProjectionRegistry.healing()).adding([RegisteredProjection(ReplicatedStateProjection()), RegisteredProjection(CertificatesProjection()),
                                                                                                             RegisteredProjection(MetricsProjection()), RegisteredProjection(PoliciesProjection())])
}

/// Warnings (a damaged snapshot that was rebuilt, say) go to stderr, apart from the output.
let warnOnStderr: @Sendable (String) -> Void = { message in
    FileHandle.standardError.write(Data("recoveryctl: warning: \(message)\n".utf8))
}

/// Runs a projection call, turning a `ProjectionError` into the CLI's failure.
func projectionCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as ProjectionError {
        throw CLIFailure(code: error.isBadInput ? 2 : 1, message: error.description)
    } catch let error as StoreError {
        throw CLIFailure(error)
    }
}

/// A point on the command line: a seq (digits) or a time (RFC 3339 or relative).
func parsePoint(_ text: String, option: String) throws -> ReplayPoint {
    if !text.isEmpty, text.allSatisfy(\.isNumber) {
        guard let seq = UInt64(text) else { throw CLIFailure.usage("\(option): '\(text)' is too large for a seq") }
        return .seq(seq)
    }
    return .time(try TimeArgument.parse(text, option: option))
}

enum StateFormat: String, ExpressibleByArgument, CaseIterable { case table, json }

/// Prints a state as `PATH VALUE` rows, one per leaf, paths as JSON Pointers.
func printLeaves(_ value: EventValue, path: String = "") {
    switch value {
    case .map(let fields) where !fields.isEmpty:
        for key in fields.keys.sorted() { printLeaves(fields[key] ?? .null, path: path + "/" + StateDiff.escape(key)) }
    case .array(let items) where !items.isEmpty:
        for (index, item) in items.enumerated() { printLeaves(item, path: path + "/\(index)") }
    default:
        print("  \(path.isEmpty ? "/" : path)  \(JSONWriter.encode(value))")
    }
}

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "The state of projections at a point in the log (default: the head).",
        discussion: "--at-seq N is the state after events 1..N; --at-time T the state after the last event, in log order, at or before T. A point before the first event or after the last (a time in the future) exits 2. The store is only read, except that a damaged snapshot is rebuilt from the log, with a warning.")

    @OptionGroup var global: GlobalArguments
    @Option(name: .customLong("at-seq"), help: "Replay events 1 through N.") var atSeq: UInt64?
    @Option(name: .customLong("at-time"), help: "RFC 3339 or relative (-15m).") var atTime: String?
    @Option(name: .customLong("projection"), help: "A projection name (repeatable; default all).") var projections: [String] = []
    @Option(help: "table or json.") var format: StateFormat = .table
    @Flag(help: "Print only NAME DIGEST lines.") var digest = false

    func validate() throws {
        if atSeq != nil && atTime != nil { throw ValidationError("give --at-seq or --at-time, not both") }
    }

    func run() throws {
        let selected = try projectionCall { try Catalog.projections.select(projections) }
        let point: ReplayPoint? = try atSeq.map { .seq($0) } ?? atTime.map { .time(try TimeArgument.parse($0, option: "--at-time")) }
        let store = try global.openExisting()
        let seq = try projectionCall { try point.map { try store.resolve($0) } ?? store.resolve(.seq(store.head().seq)) }
        var documents: [String: EventValue] = [:]
        for projection in selected {
            let state = try projectionCall { try projection.state(at: seq, in: store, warn: warnOnStderr) }
            if digest {
                print("\(projection.name) \(state.digest.hex)")
                continue
            }
            let value = try projectionCall { try state.value() }
            switch format {
            case .json:
                documents[projection.name] = .map(["version": .int(Int64(projection.version)), "digest": .string(state.digest.hex), "state": value])
            case .table:
                print("\(projection.name) v\(projection.version) at seq \(seq), digest \(state.digest.hex)")
                printLeaves(value)
            }
        }
        if format == .json && !digest {
            print(JSONWriter.encode(.map(["seq": .int(Int64(seq)), "projections": .map(documents)])))
        }
    }
}

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "What changed in projection states between two points.",
        discussion: "A POINT is a seq (digits) or a time (RFC 3339 or relative), with the meaning of replay's --at-seq and --at-time. Changes are listed by JSON Pointer path: + added, - removed, ~ changed (old -> new).")

    @OptionGroup var global: GlobalArguments
    @Option(help: "The earlier point.") var from: String
    @Option(help: "The later point.") var to: String
    @Option(name: .customLong("projection"), help: "A projection name (repeatable; default all).") var projections: [String] = []
    @Option(help: "table or json.") var format: StateFormat = .table

    func run() throws {
        let selected = try projectionCall { try Catalog.projections.select(projections) }
        let fromPoint = try parsePoint(from, option: "--from"), toPoint = try parsePoint(to, option: "--to")
        let store = try global.openExisting()
        let fromSeq = try projectionCall { try store.resolve(fromPoint) }
        let toSeq = try projectionCall { try store.resolve(toPoint) }
        var documents: [String: EventValue] = [:]
        for projection in selected {
            let changes = try projectionCall {
                let old = try projection.state(at: fromSeq, in: store, warn: warnOnStderr).value()
                let new = try projection.state(at: toSeq, in: store, warn: warnOnStderr).value()
                return StateDiff.between(old, new)
            }
            switch format {
            case .json:
                documents[projection.name] = .array(changes.map { change in
                    var fields: [String: EventValue] = ["path": .string(change.path), "kind": .string(change.kind.rawValue)]
                    if let old = change.old { fields["old"] = old }
                    if let new = change.new { fields["new"] = new }
                    return .map(fields)
                })
            case .table:
                print("\(projection.name): \(changes.count) change\(changes.count == 1 ? "" : "s") from seq \(fromSeq) to seq \(toSeq)")
                for change in changes {
                    switch change.kind {
                    case .added: print("  + \(change.path)  \(JSONWriter.encode(change.new ?? .null))")
                    case .removed: print("  - \(change.path)  \(JSONWriter.encode(change.old ?? .null))")
                    case .changed: print("  ~ \(change.path)  \(JSONWriter.encode(change.old ?? .null)) -> \(JSONWriter.encode(change.new ?? .null))")
                    }
                }
            }
        }
        if format == .json {
            print(JSONWriter.encode(.map(["from_seq": .int(Int64(fromSeq)), "to_seq": .int(Int64(toSeq)), "projections": .map(documents)])))
        }
    }
}

struct ProjectionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "projections", abstract: "Each projection with its version, checkpoint, snapshots and lag behind the head.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "text or json.") var format: ReportFormat = .text

    func run() throws {
        let store = try global.openExisting()
        let statuses = try projectionCall { try Catalog.projections.all.map { try $0.status(in: store) } }
        let head = try storeCall { try store.head().seq }
        // Counted in each state: a projection that skipped events of a known type as malformed.
        let malformed = try projectionCall { try Catalog.projections.all.map { try $0.malformedEvents(at: head, in: store) } }
        switch format {
        case .json:
            print(JSONWriter.encode(.array(zip(statuses, malformed).map { s, bad in
                var row: [String: EventValue] = ["name": .string(s.name), "version": .int(Int64(s.version)), "checkpoint": .int(Int64(s.checkpoint)),
                                                 "snapshots": .int(Int64(s.snapshots)), "stale_snapshots": .int(Int64(s.staleSnapshots)), "lag": .int(Int64(s.lag))]
                if let bad {
                    var detail: [String: EventValue] = ["count": .int(Int64(bad.count))]
                    if let seq = bad.lastSeq { detail["last_seq"] = .int(Int64(seq)) }
                    if let error = bad.lastError { detail["last_error"] = .string(error) }
                    row["malformed"] = .map(detail)
                }
                return .map(row)
            })))
        case .text:
            print(pad("NAME", 14) + " " + pad("VERSION", 8) + " " + pad("CHECKPOINT", 11) + " " + pad("SNAPSHOTS", 10) + " " + pad("LAG", 8) + " MALFORMED")
            for (s, bad) in zip(statuses, malformed) {
                let stale = s.staleSnapshots > 0 ? " (+\(s.staleSnapshots) stale)" : ""
                let skipped = bad.map { $0.count == 0 ? "0" : "\($0.count) (last at seq \($0.lastSeq ?? 0): \($0.lastError ?? ""))" } ?? "-"
                print(pad(s.name, 14) + " " + pad("\(s.version)", 8) + " " + pad("\(s.checkpoint)", 11) + " " + pad("\(s.snapshots)\(stale)", 10) + " " + pad("\(s.lag)", 8) + " " + skipped)
            }
        }
    }
}

struct RebuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rebuild", abstract: "Drop a projection's snapshots and checkpoint and rebuild it from the log.")

    @OptionGroup var global: GlobalArguments
    @Option(name: .customLong("projection"), help: "A projection name (repeatable; default all).") var projections: [String] = []

    func run() throws {
        let selected = try projectionCall { try Catalog.projections.select(projections) }
        let store = try global.openExisting()
        for projection in selected {
            let start = DispatchTime.now().uptimeNanoseconds
            let applied = try projectionCall { try projection.rebuild(in: store, warn: warnOnStderr) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            let status = try projectionCall { try projection.status(in: store) }
            print("rebuilt \(projection.name) v\(projection.version): \(applied) events in \(String(format: "%.3f", seconds)) s, \(status.snapshots) snapshots, checkpoint \(status.checkpoint)")
        }
    }
}
