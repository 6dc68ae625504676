import ArgumentParser
import EventStore
import Foundation

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Recompute the hash chain and check the indexes and anchors; or check an exported JSONL slice offline (--export).",
        discussion: "Exit 0 when everything holds, 1 with the first bad seq (or line) otherwise. Record the printed head (SEQ:HASH) elsewhere and pass it later as --anchor: the chain alone cannot show that its newest records were cut off. --export needs no store: each line's hash is recomputed from its content and prev checked against the line before, so an edited, removed, reordered or inserted line is named.")

    @OptionGroup var global: GlobalArguments
    @Option(name: .customLong("anchor"), help: "SEQ:HASH that must still be in the log (repeatable; with --export, the slice's head must be one).") var anchors: [String] = []
    @Option(help: "An exported JSONL file (query --format jsonl) to check without a store.") var export: String?
    @Flag(name: .customLong("allow-gaps"), help: "With --export: the export was filtered, so positions may be skipped.") var allowGaps = false
    @Option(help: "With --export: check its Ed25519 signature (FILE.sig, or --signature) with this public key (PEM).") var pubkey: String?
    @Option(help: "With --pubkey: the signature file (default: the export's path + .sig).") var signature: String?
    @Option(help: "text or json.") var format: ReportFormat = .text

    func run() throws {
        if let export { return try verifyExport(export) }
        let parsed = try anchors.map { text -> Anchor in
            guard let anchor = Anchor(text) else { throw CLIFailure.usage("--anchor: '\(text)' is not SEQ:HASH with a 64-digit hex hash") }
            return anchor
        }
        let store = try global.openExisting()
        let report = try storeCall { try store.verify(anchors: parsed) }
        switch format {
        case .json:
            let problems: [EventValue] = report.problems.map { problem -> EventValue in
                let fields: [String: EventValue] = ["seq": .int(Int64(problem.seq)), "message": .string(problem.message)]
                return .map(fields)
            }
            var object: [String: EventValue] = [
                "ok": .bool(report.ok), "events_checked": .int(Int64(report.eventsChecked)),
                "head": EventValue.map(["seq": EventValue.int(Int64(report.headSeq)), "hash": EventValue.string(report.headHash.hex)]),
                "index_checkpoint": .int(Int64(report.indexCheckpoint)), "index_lag": .int(Int64(report.indexLag)),
                "anchors_checked": .int(Int64(report.anchorsChecked)), "problems": .array(problems),
            ]
            if let first = report.firstBadSeq { object["first_bad_seq"] = .int(Int64(first)) }
            if let anchor = report.archiveAnchor { object["archive_anchor"] = .map(["seq": .int(Int64(clamping: anchor.seq)), "hash": .string(anchor.hash.hex)]) }
            print(JSONWriter.encode(.map(object)))
        case .text:
            print("events checked: \(report.eventsChecked)")
            if let anchor = report.archiveAnchor { print("from the archive anchor: \(anchor) (the events up to it are archived)") }
            print("head: \(report.headSeq):\(report.headHash.hex)")
            print("index checkpoint: \(report.indexCheckpoint) (lag \(report.indexLag))")
            if report.anchorsChecked > 0 { print("anchors checked: \(report.anchorsChecked)") }
            for problem in report.problems { print("problem: \(problem)") }
            print(report.ok ? "verify: ok" : "verify: FAILED at seq \(report.firstBadSeq ?? 0)")
        }
        if !report.ok {
            throw CLIFailure(code: 1, message: "verification failed at seq \(report.firstBadSeq ?? 0): \(report.problems.first?.message ?? "")")
        }
    }
}

extension Verify {
    /// `verify --export`: the slice checked line by line as it is read.
    func verifyExport(_ path: String) throws {
        let anchors = try self.anchors.map { text -> Anchor in
            guard let anchor = Anchor(text) else { throw CLIFailure.usage("--anchor: '\(text)' is not SEQ:HASH with a 64-digit hex hash") }
            return anchor
        }
        var verifier = ExportVerifier(allowGaps: allowGaps)
        let hasher = try storeCall { try StreamingSHA256() }
        try forEachLine(of: path, chunk: hasher.update) { verifier.check(line: $0) }
        var problems = verifier.problems.map(\.description)
        if verifier.lines == 0 { problems.append("no events in \(path)") }
        if let pubkey {
            let key = try readFile(pubkey, limit: 64 << 10)
            do { try ExportSignature.checkPublicKey(key) } catch { throw CLIFailure.usage("--pubkey \(pubkey): \(error)") }
            let signatureFile = signature ?? path + ".sig"
            if !FileManager.default.fileExists(atPath: signatureFile) {
                problems.append("no signature at \(signatureFile)")
            } else {
                do {
                    let signed = try ExportSignature(json: try readFile(signatureFile, limit: 4_096))
                    if signed.sha256 != hasher.finish() { problems.append("the signature covers other bytes than \(path) holds") }
                    if signed.head != verifier.head { problems.append("the signature names head \(signed.head), the export ends at \(verifier.head.map(\.description) ?? "nothing")") }
                    if try !signed.verifies(publicKeyPEM: key) { problems.append("the signature does not verify with \(pubkey)") }
                } catch let error as ExportSignatureError {
                    problems.append("\(signatureFile): \(error)")
                }
            }
        }
        if !anchors.isEmpty, let head = verifier.head, !anchors.contains(head) {
            problems.append("the slice's head \(head) is not the anchor given")
        }
        switch format {
        case .json:
            var object: [String: EventValue] = ["ok": .bool(problems.isEmpty), "lines_checked": .int(Int64(verifier.lines)),
                                                "problems": .array(problems.map { .string($0) })]
            if let head = verifier.head { object["head"] = ["seq": .int(Int64(head.seq)), "hash": .string(head.hash.hex)] }
            if let first = verifier.firstSeq { object["first_seq"] = .int(Int64(first)) }
            print(JSONWriter.encode(.map(object)))
        case .text:
            print("lines checked: \(verifier.lines)")
            if let first = verifier.firstSeq, let head = verifier.head { print("seq \(first) .. \(head.seq), head \(head)") }
            for problem in problems { print("problem: \(problem)") }
            print(problems.isEmpty ? "verify: ok" : "verify: FAILED")
        }
        if let first = problems.first { throw CLIFailure(code: 1, message: "export verification failed: \(first)") }
    }
}

/// Calls `body` with each line of the file at `path` (without its newline), reading it in
/// chunks: constant memory for a file of any size.
func forEachLine(of path: String, chunk observe: ([UInt8]) -> Void = { _ in }, _ body: ([UInt8]) throws -> Void) throws {
    guard FileManager.default.isReadableFile(atPath: path) else { throw CLIFailure.usage("cannot read \(path)") }
    do {
        try FileLines.forEach(path, chunk: observe, body)
    } catch let error as FileLines.TooLong {
        throw CLIFailure(code: 2, message: error.description)
    } catch let error as StoreError {
        throw CLIFailure(code: 2, message: "cannot read \(path): \(error)")
    }
}

/// SHA-256 of a file's bytes, read in chunks.
func fileSHA256(_ path: String) throws -> Digest {
    let hasher = try storeCall { try StreamingSHA256() }
    try forEachLine(of: path, chunk: hasher.update) { _ in }
    return hasher.finish()
}

enum ReportFormat: String, ExpressibleByArgument, CaseIterable { case text, json }

struct Reindex: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Bring the secondary indexes of a store up to date (a copied or idle store).")

    @OptionGroup var global: GlobalArguments

    func run() throws {
        let store = try global.openExisting()
        let indexed = try storeCall { try store.reindex() }
        let checkpoint = try storeCall { try store.indexCheckpoint() }
        print("indexed \(indexed) events; index checkpoint \(checkpoint)")
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Counts, ranges, per-type and per-node totals, disk and map use.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "text or json.") var format: ReportFormat = .text

    func run() throws {
        let store = try global.openExisting()
        let s = try storeCall { try store.stats() }
        switch format {
        case .json:
            var object: [String: EventValue] = [
                "count": .int(Int64(s.count)), "streams": .int(Int64(s.streams)), "node_id": .string(s.nodeID), "replica_id": .string(s.replicaID),
                "per_type": .map(s.perType.mapValues { .int(Int64($0)) }),
                "per_node": .map(s.perNode.mapValues { .int(Int64($0)) }),
                "bytes_on_disk": .int(Int64(s.bytesOnDisk)), "map_size": .int(Int64(s.mapSize)),
                "map_used": .int(Int64(s.mapUsed)), "index_checkpoint": .int(Int64(s.indexCheckpoint)),
            ]
            if let v = s.firstSeq { object["first_seq"] = .int(Int64(v)) }
            if let v = s.lastSeq { object["last_seq"] = .int(Int64(v)) }
            if let v = s.firstTime { object["first_time"] = .string(v.rfc3339) }
            if let v = s.lastTime { object["last_time"] = .string(v.rfc3339) }
            print(JSONWriter.encode(.map(object)))
        case .text:
            print("store:       \(store.path) (node \(s.nodeID))")
            print("replica:     \(s.replicaID)")
            print("events:      \(s.count) in \(s.streams) streams")
            if let first = s.firstSeq, let last = s.lastSeq, let ft = s.firstTime, let lt = s.lastTime {
                print("seq:         \(first) .. \(last)")
                print("time:        \(ft.rfc3339) .. \(lt.rfc3339)")
            }
            print("disk:        \(s.bytesOnDisk) bytes; map \(s.mapUsed) of \(s.mapSize) bytes used")
            print("indexed to:  \(s.indexCheckpoint)")
            print("per type:")
            for (type, n) in s.perType.sorted(by: { ($1.value, $0.key) < ($0.value, $1.key) }) { print("  " + pad(type, 26) + " \(n)") }
            print("per node:")
            for (node, n) in s.perNode.sorted(by: { $0.key < $1.key }) { print("  " + pad(node, 26) + " \(n)") }
        }
    }
}
