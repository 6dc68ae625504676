import ArgumentParser
import EventStore
import Foundation

/// Incremental log shipping: segment files of the events since the last one shipped, each a
/// verifiable JSONL slice whose first `prev` is the previous segment's last hash.
enum Segments {
    static let stateFile = "shipped.json"

    /// The segment files of `directories` (shipped and archived ones may sit in different
    /// places), in log order.
    static func files(in directories: [String]) throws -> [String] {
        var files: [(name: String, path: String)] = []
        for directory in directories {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { throw CLIFailure.usage("cannot read \(directory)") }
            files += names.filter { $0.hasPrefix("segment-") && $0.hasSuffix(".jsonl") }.map { ($0, directory + "/" + $0) }
        }
        return files.sorted { $0.name < $1.name }.map(\.path)
    }

    /// Appends the segments after `store`'s head, each checked first: its lines verify, its
    /// first prev is the store's head hash, and the store's new head is the segment's last hash.
    static func apply(_ directories: [String], to store: EventStore) throws -> (segments: Int, events: Int) {
        var applied = (segments: 0, events: 0)
        let archivedThrough = try storeCall { try store.archiveAnchor() }
        for file in try files(in: directories) {
            var events: [Event] = []
            var verifier = ExportVerifier()
            try forEachLine(of: file) { line in
                verifier.check(line: line)
                if let value = try? JSONParser.parse(line), let event = try? Envelope.event(from: value) { events.append(event) }
            }
            guard verifier.ok, let first = events.first, let last = events.last else {
                throw CLIFailure(code: 1, message: "\(file): \(verifier.problems.first?.description ?? "no events")")
            }
            let head = try storeCall { try store.head() }
            if last.seq <= head.seq {
                // Already in the base backup, if it is the same log; or archived from it.
                if let archivedThrough, last.seq < archivedThrough.seq { continue }
                let stored = last.seq == archivedThrough?.seq ? archivedThrough?.hash : try storeCall({ try store.event(at: last.seq) })?.hash
                guard stored == last.hash else {
                    throw CLIFailure(code: 1, message: "\(file) does not continue this store's chain: its seq \(last.seq) is another event (a segment of another store)")
                }
                continue
            }
            // A segment may overlap the base: its events up to the head are already there.
            events.removeAll { $0.seq <= head.seq }
            guard first.seq <= head.seq + 1, let next = events.first, next.seq == head.seq + 1, next.prev == head.hash else {
                throw CLIFailure(code: 1, message: "\(file) does not continue this store's chain at seq \(head.seq + 1): a segment of another store, or one is missing")
            }
            for start in stride(from: 0, to: events.count, by: 1_000) {
                let batch = events[start..<min(events.count, start + 1_000)].map { e in
                    NewEvent(type: e.type, stream: e.stream, data: e.data, tags: e.tags, id: e.id, time: e.time, hlc: e.hlc, node: e.node,
                             causation: e.causation, correlation: e.correlation)
                }
                _ = try storeCall { try store.appendBlocking(batch) }
            }
            let after = try storeCall { try store.head() }
            guard after.seq == last.seq, after.hash == last.hash else {
                throw CLIFailure(code: 1, message: "\(file): replaying it gave head \(after.seq):\(after.hash.hex), the segment ends at \(last.seq):\(last.hash.hex)")
            }
            applied.segments += 1
            applied.events += events.count
        }
        return applied
    }
}

struct ShipCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ship",
        abstract: "Incremental log shipping: write the events since the last shipped one to DIR as a verifiable segment.",
        discussion: "Each segment is a JSONL slice (verify --export checks it) whose first prev is the previous segment's last hash; DIR/shipped.json remembers where shipping stopped. restore --from BASE --segments DIR rebuilds a store from a base backup plus segments.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "The shipping directory (created if missing).") var to: String

    func run() throws {
        let store = try global.openExisting()
        defer { store.close() }
        var after: UInt64 = 0
        if let state = FileManager.default.contents(atPath: to + "/" + Segments.stateFile) {
            guard let value = try? JSONParser.parse(Array(state)), value["replica_id"]?.stringValue == store.replicaID,
                  case .int(let seq)? = value["seq"], seq >= 0, let hash = value["hash"]?.stringValue.flatMap(Digest.init(hex:)) else {
                throw CLIFailure.usage("\(to)/\(Segments.stateFile) belongs to another store or is malformed")
            }
            let anchor = try storeCall { try store.archiveAnchor() }
            let archived = anchor.map { UInt64(seq) <= $0.seq } ?? false
            let shipped = archived ? hash : try storeCall({ try store.event(at: UInt64(seq)) })?.hash
            guard shipped == hash else {
                throw CLIFailure(code: 1, message: "the last shipped event (seq \(seq)) is not this store's: refusing to ship")
            }
            after = UInt64(seq)
        }
        if let anchor = try storeCall({ try store.archiveAnchor() }), anchor.seq > after {
            // The events between are no longer here: they are in the archive.
            try noteArchives(of: store, from: after + 1)
            after = anchor.seq
        }
        let head = try storeCall { try store.head() }
        guard head.seq > after else {
            print("nothing to ship: shipped through seq \(after)")
            return
        }
        let segment = try storeCall { try LogSegment.write(store, first: after + 1, last: head.seq, into: to) }
        print("shipped seq \(after + 1) .. \(head.seq) to \(segment.path)")
        let state = JSONWriter.encode(["replica_id": .string(store.replicaID), "seq": .int(Int64(clamping: head.seq)), "hash": .string(head.hash.hex)])
        try writeAtomically(to + "/" + Segments.stateFile, Array((state + "\n").utf8))
    }
}
