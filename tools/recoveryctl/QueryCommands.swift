import Foundation
import ArgumentParser
import EventStore
#if canImport(Glibc)
import Glibc
#endif

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Select events by stream, type, node, tags, correlation, time or position.",
        discussion: "Ranges: --since A --until B selects A ≤ time < B; --from-seq N --to-seq M selects N ≤ seq ≤ M. TIME is RFC 3339 or relative (-90s, -15m, -2h, -7d).")

    @OptionGroup var global: GlobalArguments
    @OptionGroup var filters: QueryFilters
    @Option(help: "table, json, jsonl (the import envelope) or csv.") var format: OutputFormat = .table
    @Option(name: [.short, .long], help: "Write to this file instead of standard output.") var output: String?
    @Option(help: "With --format jsonl and --output: sign the export and its chain head with this Ed25519 private key (PEM), writing OUTPUT.sig.") var sign: String?

    func run() throws {
        let query = try filters.makeQuery()
        let store = try global.openExisting()
        try noteArchives(of: store, from: query.fromSeq)
        var keys: [String] = []
        if format == .csv {
            // A first pass finds the payload keys so every row has the same columns.
            var seen = Set<String>()
            try storeCall { try store.query(query).forEach { e in seen.formUnion(e.data.mapValue?.keys ?? [:].keys) } }
            keys = seen.sorted()
        }
        if sign != nil {
            guard format == .jsonl, output != nil, !filters.reverse else { throw CLIFailure.usage("--sign needs --format jsonl, --output FILE and oldest-first order") }
        }
        let key = try sign.map { try readFile($0, limit: 64 << 10) }
        var sink = OutputSink()
        if let output {
            sink = try OutputSink(creating: output)
        }
        var printer = EventPrinter(format: format, dataKeys: keys, sink: sink)
        printer.begin()
        try storeCall { try store.query(query).forEach { printer.print($0) } }
        printer.end()
        if let key, let output {
            guard let last = printer.last else { throw CLIFailure(code: 1, message: "nothing to sign: the query matched no events") }
            let digest = try fileSHA256(output)
            let signature: ExportSignature
            do { signature = try ExportSignature.sign(sha256: digest, head: Anchor(seq: last.seq, hash: last.hash), privateKeyPEM: key) } catch {
                throw CLIFailure.usage("--sign \(sign ?? ""): \(error)")
            }
            try writeFile(output + ".sig", Array((signature.json + "\n").utf8))
        }
    }
}

struct Tail: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the last events; with -f, follow new ones as they are appended.")

    @OptionGroup var global: GlobalArguments
    @Option(name: .short, help: "How many of the last events.") var n: Int = 10
    @Flag(name: .short, help: "Keep printing events as another process appends them.") var f = false
    @Option(help: "table or jsonl.") var format: OutputFormat = .table
    @Option(help: "With -f, poll this often (milliseconds).") var interval: Int = 200

    func validate() throws {
        if n < 0 { throw ValidationError("-n must not be negative") }
        if interval < 10 || interval > 3_600_000 { throw ValidationError("--interval must be between 10 ms and 3600000 ms (an hour)") }
    }

    func run() throws {
        let store = try global.openExisting()
        var printer = EventPrinter(format: format == .json || format == .csv ? .jsonl : format)
        let last = try storeCall { try store.query(EventQuery(limit: n, reverse: true)).collect() }
        if format == .table { printer.begin() }
        for event in last.reversed() { printer.print(event) }
        printer.flush()
        guard f else { return }
        var next = try storeCall { try store.head().seq } + 1
        while true {
            // Another process is the writer: polling from a position costs one short read transaction.
            try storeCall {
                try store.read(from: next).forEach { e in
                    printer.print(e)
                    next = e.seq + 1
                }
            }
            printer.flush()
            // validate() bounds the interval, so the product fits; nanosleep takes any length.
            var pause = timespec(tv_sec: interval / 1000, tv_nsec: interval % 1000 * 1_000_000)
            nanosleep(&pause, nil)
        }
    }
}

/// The filters `query` and `timeline export` share.
struct QueryFilters: ParsableArguments {
    @Option(help: "Only this stream.") var stream: String?
    @Option(help: "Only this event type.") var type: String?
    @Option(help: "Only events that originated on this node.") var node: String?
    @Option(name: .customLong("tag"), help: "Only events with tag key=value (repeatable; all must match).") var tags: [String] = []
    @Option(help: "Only this correlation id.") var correlation: String?
    @Option(help: "From this time, inclusive.") var since: String?
    @Option(help: "Up to this time, exclusive.") var until: String?
    @Option(name: .customLong("from-seq"), help: "From this position, inclusive.") var fromSeq: UInt64?
    @Option(name: .customLong("to-seq"), help: "Up to this position, inclusive.") var toSeq: UInt64?
    @Option(help: "At most this many events.") var limit: Int?
    @Flag(help: "Newest first.") var reverse = false

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
        if let fromSeq, let toSeq, fromSeq > toSeq { throw ValidationError("--from-seq \(fromSeq) is after --to-seq \(toSeq)") }
    }

    func makeQuery() throws -> EventQuery {
        var query = EventQuery(stream: stream, type: type, node: node, correlation: correlation,
                               fromSeq: fromSeq, toSeq: toSeq, limit: limit, reverse: reverse)
        for tag in tags {
            guard let eq = tag.firstIndex(of: "="), eq != tag.startIndex else {
                throw CLIFailure.usage("--tag: '\(tag)' is not key=value")
            }
            query.tags[String(tag[..<eq])] = String(tag[tag.index(after: eq)...])
        }
        if let since { query.since = try TimeArgument.parse(since, option: "--since") }
        if let until { query.until = try TimeArgument.parse(until, option: "--until") }
        return query
    }
}
