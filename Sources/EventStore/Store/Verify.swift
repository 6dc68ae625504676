import CLMDB

/// What `verify` found. `ok` is true only when the chain, every record's encoding, the indexes
/// and every anchor hold.
public struct VerifyReport: Sendable, Hashable {
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// The position concerned (0 when the problem is not about one record).
        public var seq: UInt64
        public var message: String
        public var description: String { seq == 0 ? message : "seq \(seq): \(message)" }
    }

    public var eventsChecked: UInt64 = 0
    public var headSeq: UInt64 = 0
    public var headHash: Digest = .zero
    public var indexCheckpoint: UInt64 = 0
    public var anchorsChecked = 0
    /// The archive anchor the chain was checked from (nil when nothing was archived): the
    /// events up to it are in archives, checked with `verify --export`.
    public var archiveAnchor: Anchor?
    /// Problems in log order; the first is the first bad position.
    public var problems: [Problem] = []

    public var ok: Bool { problems.isEmpty }
    public var indexLag: UInt64 { headSeq - min(headSeq, indexCheckpoint) }
    public var firstBadSeq: UInt64? { problems.first?.seq }
}

/// A (seq, hash) pair recorded elsewhere, checked by `verify` to detect a cut-off log.
public struct Anchor: Sendable, Hashable, CustomStringConvertible {
    public var seq: UInt64
    public var hash: Digest

    public init(seq: UInt64, hash: Digest) {
        self.seq = seq
        self.hash = hash
    }

    /// Parses `SEQ:HASH` (64 hex digits).
    public init?(_ text: String) {
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let seq = UInt64(parts[0]), seq > 0, let hash = Digest(hex: String(parts[1])) else { return nil }
        self.init(seq: seq, hash: hash)
    }

    public var description: String { "\(seq):\(hash.hex)" }
}

extension EventStore {
    /// Recomputes the hash chain, re-encodes every record to check it is canonical, checks that
    /// every index entry points to a matching record and every record up to the index checkpoint
    /// is indexed, and checks each anchor. Stops collecting after `maximumProblems`.
    public func verify(anchors: [Anchor] = [], maximumProblems: Int = 20) throws(StoreError) -> VerifyReport {
        try storeCall {
            var verifier = Verifier(env: env, maximumProblems: maximumProblems)
            return try verifier.run(anchors: anchors)
        }
    }
}

private struct Verifier {
    let env: Environment
    let maximumProblems: Int
    var report = VerifyReport()
    var expectedIndexEntries = (streams: 0, types: 0, tags: 0, time: 0)
    var streamHeads: [String: (version: UInt64, lastSeq: UInt64)] = [:]
    /// Tag entries per record after the starting checkpoint, in case the index builder of a live
    /// writer moves the checkpoint on while verify runs.
    var tagEntriesAfterCheckpoint: [UInt64: Int] = [:]

    init(env: Environment, maximumProblems: Int) {
        self.env = env
        self.maximumProblems = maximumProblems
    }

    mutating func problem(_ seq: UInt64, _ message: String) {
        if report.problems.count < maximumProblems { report.problems.append(.init(seq: seq, message: message)) }
    }

    mutating func run(anchors: [Anchor]) throws -> VerifyReport {
        guard let hasher = try? SHA256Hasher() else { throw StoreError.crypto("SHA-256 is unavailable") }
        let (head, checkpoint, archives) = try env.read { txn in
            (try Head.load(txn), try IndexBuilder.checkpoint(txn), try ArchiveMarks.load(txn))
        }
        report.headSeq = head.seq
        report.headHash = head.hash
        report.indexCheckpoint = checkpoint
        report.archiveAnchor = archives.last.map { Anchor(seq: $0.throughSeq, hash: $0.hash) }
        if checkpoint > head.seq { problem(0, "index checkpoint \(checkpoint) is beyond the head \(head.seq)") }
        // The chain is checked from the archive anchor: the first live event links to it.
        var expectedPrev = report.archiveAnchor?.hash ?? .zero
        var next: UInt64 = (report.archiveAnchor?.seq ?? 0) + 1
        while next <= head.seq {
            let start = next
            next = try env.read { txn in
                try checkChunk(txn, from: start, to: min(head.seq, start + 4095), checkpoint: checkpoint,
                               hasher: hasher, prev: &expectedPrev)
            }
        }
        try env.read { txn in try checkTotals(txn, startCheckpoint: min(checkpoint, head.seq), head: head.seq) }
        for anchor in anchors {
            report.anchorsChecked += 1
            if let archive = archives.first(where: { $0.firstSeq <= anchor.seq && anchor.seq <= $0.throughSeq }) {
                if anchor.seq != archive.throughSeq {
                    problem(anchor.seq, "anchor \(anchor.seq) is archived in \(archive.location): check it there with verify --export")
                } else if anchor.hash != archive.hash {
                    problem(anchor.seq, "anchor hash \(anchor.hash.hex) does not match the archive anchor \(archive.hash.hex)")
                }
                continue
            }
            let stored = try env.read { txn -> Digest? in
                try Key.seq(anchor.seq).withUnsafeBytes { try txn.get(txn.dbs.events, $0) }.flatMap(Record.storedHash)
            }
            guard let stored else {
                problem(anchor.seq, "anchor \(anchor.seq) is beyond the head \(head.seq): the log was cut off")
                continue
            }
            if stored != anchor.hash { problem(anchor.seq, "anchor hash \(anchor.hash.hex) does not match the stored \(stored.hex)") }
        }
        report.problems.sort { ($0.seq == 0 ? UInt64.max : $0.seq) < ($1.seq == 0 ? UInt64.max : $1.seq) }
        return report
    }

    /// Checks records `from...to`; returns the next seq to check.
    private mutating func checkChunk(_ txn: Transaction, from: UInt64, to: UInt64, checkpoint: UInt64,
                                     hasher: SHA256Hasher, prev: inout Digest) throws -> UInt64 {
        let cursor = try txn.cursor(txn.dbs.events)
        defer { cursor.close() }
        var entry = try cursor.get(MDB_SET_RANGE, key: Key.seq(from))
        var expected = from
        while let current = entry, expected <= to {
            let seq = current.key.count == 8 ? try Key.readUInt64(current.key) : 0
            if seq != expected {
                problem(expected, seq > expected ? "record missing (next stored is \(seq))" : "malformed key")
                if seq < expected { return to + 1 }
                expected = seq
            }
            report.eventsChecked += 1
            let record = current.value
            do {
                let event = try Record.decode(record, expectedSeq: seq)
                guard let canonical = Record.canonicalPart(record) else { throw StoreError.corrupt(seq: seq, "record header") }
                let computed = hasher.digest(prev: prev, canonical: canonical)
                if event.prev != prev {
                    problem(seq, "prev \(event.prev.hex) does not match the previous record's hash \(prev.hex)")
                } else if computed != event.hash {
                    problem(seq, "hash mismatch: stored \(event.hash.hex), computed \(computed.hex) (the record was altered)")
                } else if !Record.canonicalBytes(of: event).elementsEqual(canonical) {
                    problem(seq, "record bytes are not in canonical form")
                }
                prev = event.hash
                try checkIndexed(txn, event, checkpoint: checkpoint)
            } catch let error as StoreError {
                problem(seq, error.description)
                prev = Record.storedHash(record) ?? prev
            }
            expected = seq + 1
            entry = try cursor.get(MDB_NEXT)
        }
        if expected <= to { problem(expected, "record missing") ; return to + 1 }
        return expected
    }

    private mutating func checkIndexed(_ txn: Transaction, _ e: Event, checkpoint: UInt64) throws {
        guard e.seq <= checkpoint else {
            tagEntriesAfterCheckpoint[e.seq] = IndexBuilder.tagKeys(node: e.node, correlation: e.correlation, tags: e.tags).count
            return
        }
        let seqKey = Key.seq(e.seq)
        var missing: [String] = []
        if try !hasEntry(txn, txn.dbs.streams, Key.text(e.stream), Key.pair(e.version, e.seq)) { missing.append("streams") }
        if try !hasEntry(txn, txn.dbs.types, Key.text(e.type), seqKey) { missing.append("types") }
        let tagKeys = IndexBuilder.tagKeys(node: e.node, correlation: e.correlation, tags: e.tags)
        for key in tagKeys where try !hasEntry(txn, txn.dbs.tags, key.bytes, seqKey) {
            missing.append("tags \(String(decoding: key.bytes.dropFirst(), as: UTF8.self))")
        }
        if try txn.get(txn.dbs.time, Key.time(e.time, e.seq)) == nil { missing.append("time") }
        // Stream heads are kept behind the checkpoint too (see `StreamTail`).
        streamHeads[e.stream] = (e.version, e.seq)
        expectedIndexEntries.streams += 1
        expectedIndexEntries.types += 1
        expectedIndexEntries.tags += tagKeys.count
        expectedIndexEntries.time += 1
        if !missing.isEmpty { problem(e.seq, "not indexed in \(missing.joined(separator: ", "))") }
    }

    private func hasEntry(_ txn: Transaction, _ dbi: MDB_dbi, _ key: [UInt8], _ value: [UInt8]) throws -> Bool {
        let cursor = try txn.cursor(dbi)
        defer { cursor.close() }
        return try cursor.get(MDB_GET_BOTH, key: key, value: value) != nil
    }

    /// With every expected entry present, equal totals mean no index holds an entry that points
    /// nowhere or at the wrong record.
    private mutating func checkTotals(_ txn: Transaction, startCheckpoint: UInt64, head: UInt64) throws {
        // The totals are read in this transaction, against the checkpoint as it is now.
        let checkpoint = try IndexBuilder.checkpoint(txn)
        guard checkpoint <= head else { return } // indexed past what was checked: nothing to compare
        let added = Int(checkpoint - min(checkpoint, startCheckpoint))
        let addedTags = (startCheckpoint..<max(startCheckpoint, checkpoint)).reduce(0) { $0 + (tagEntriesAfterCheckpoint[$1 + 1] ?? 0) }
        let totals: [(String, MDB_dbi, Int)] = [
            ("streams", txn.dbs.streams, expectedIndexEntries.streams + added),
            ("types", txn.dbs.types, expectedIndexEntries.types + added),
            ("tags", txn.dbs.tags, expectedIndexEntries.tags + addedTags),
            ("time", txn.dbs.time, expectedIndexEntries.time + added),
        ]
        for (name, dbi, expected) in totals {
            let actual = try txn.entryCount(dbi)
            if actual != expected {
                problem(0, "index \(name) holds \(actual) entries where the log up to the checkpoint \(checkpoint) gives \(expected)")
            }
        }
        // A head is the stream's last event up to the checkpoint the records were checked
        // against, or a later event of the same stream (the indexer moved on meanwhile, or a
        // format 3 store kept its heads current at append).
        for (stream, head) in streamHeads {
            let stored = try StreamTail.stored(stream, in: txn)
            if stored == head { continue }
            if stored.lastSeq > startCheckpoint, stored.version > head.version,
               let record = try txn.get(txn.dbs.events, Key.seq(stored.lastSeq)),
               let later = try? record.withUnsafeBytes({ try Record.view($0, expectedSeq: stored.lastSeq) }),
               later.stream.matches(stream), later.version == stored.version {
                continue
            }
            problem(head.lastSeq, "stream head of \(stream) does not match its last event (version \(head.version))")
        }
    }
}
