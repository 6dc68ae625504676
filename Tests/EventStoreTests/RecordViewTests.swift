import Testing
@testable import EventStore

@Suite("Records read in place: views, runs, and the straight-through reader")
struct RecordViewTests {
    /// Events of every envelope shape: tags or none, links or none, names short and long,
    /// ASCII and not.
    static func variedEvents(_ count: Int) -> [NewEvent] {
        (0..<count).map { i in
            var e = NewEvent(type: i % 5 == 0 ? "a.type.name.longer.than.sixteen.bytes" : "t\(i % 3)",
                             stream: i % 7 == 0 ? "узел/поток-\(i % 4)" : "s/\(i % 11)", data: ["i": .int(Int64(i))])
            if i % 2 == 0 { e.tags = ["service": "svc-\(i % 4)", "zone": "z"] }
            if i % 3 == 0 { e.causation = "cause-\(i)" }
            if i % 4 == 0 { e.correlation = "incident-\(i % 6)" }
            if i % 6 == 0 { e.node = "a-node-name-longer-than-sixteen-\(i % 2)" }
            return e
        }
    }

    @Test("a view holds what the decoded event holds, in runs of the asked length, sequential or parallel")
    func viewsMatchEvents() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try store.appendBlocking(Self.variedEvents(300))
        let events = try store.read().collect()
        var envelopes: [Event] = []
        try store.scan(fields: .envelope) { envelopes.append($0); return true }

        func check(_ run: RecordRun, _ seen: inout [UInt64]) {
            for view in run {
                let event = events[Int(view.seq) - 1]
                #expect(view.version == event.version && view.time == event.time && view.hlc == event.hlc)
                #expect(view.node.string == event.node && view.stream.string == event.stream && view.type.string == event.type)
                #expect(view.stream.matches(event.stream) && !view.stream.matches(event.stream + "x"))
                #expect(view.hash == event.hash && view.prev == event.prev)
                #expect(view.event() == envelopes[Int(view.seq) - 1])
                seen.append(view.seq)
            }
        }
        var sequential: [UInt64] = []
        var runSizes: Set<Int> = []
        let last = try store.scanRecords(runLength: 7) { run in
            runSizes.insert(run.count)
            check(run, &sequential)
            return true
        }
        #expect(last == 300 && sequential == Array(1...300) && runSizes.max() == 7)

        var parallel: [UInt64] = []
        try store.scanRecordsInParallel(chunkSize: 16, runLength: 5) { run in
            #expect(run.count <= 5)
            check(run, &parallel)
            // A slice of a run is a run over the same records.
            if run.count > 2 { #expect(run[run.startIndex + 1..<run.endIndex].first?.seq == run[run.startIndex].seq + 1) }
            return true
        }
        #expect(parallel == Array(1...300))

        // Stopping early reports the last record delivered.
        var delivered = 0
        #expect(try store.scanRecords(from: 10, runLength: 4) { run in delivered += run.count; return delivered < 8 } == 17)
        #expect(try store.scanRecordsInParallel(from: 10, chunkSize: 16, runLength: 4) { _ in false } == 13)
    }

    @Test("summaries: every record summarised once, in order, in chunks cut where asked; records or events, parallel or inline")
    func summariesCoverTheLogInOrder() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try store.appendBlocking(Self.variedEvents(1_000))
        let events = try store.read().collect()
        // Chunks must end at every multiple of 70 and hold at most `size` records; 1,000
        // records make several chunks (parallel) with 64, two chunks' worth fewer (inline) with 600.
        let endsAt: @Sendable (UInt64) -> UInt64 = { low in (low + 69) / 70 * 70 }
        for size in [64, 600] {
            for inPlace in [true, false] {
                var ranges: [ClosedRange<UInt64>] = []
                let summarize: @Sendable ([String]) -> [String] = { $0 }
                func absorb(_ types: [String], _ range: ClosedRange<UInt64>) -> Bool {
                    #expect(types == events[Int(range.lowerBound) - 1..<Int(range.upperBound)].map(\.type))
                    ranges.append(range)
                    return true
                }
                let last = inPlace
                    ? try store.summarizeRecordsInParallel(from: 5, chunkSize: size, endsAt: endsAt,
                                                           summarize: { run in summarize(run.map(\.type.string)) }, absorb)
                    : try store.summarizeInParallel(from: 5, fields: .envelope, chunkSize: size, endsAt: endsAt,
                                                    summarize: { events in summarize(events.map(\.type)) }, absorb)
                #expect(last == 1_000)
                #expect(ranges.first?.lowerBound == 5 && ranges.last?.upperBound == 1_000)
                #expect(zip(ranges, ranges.dropFirst()).allSatisfy { $0.upperBound + 1 == $1.lowerBound })
                #expect(ranges.allSatisfy { $0.count <= size }, "size \(size)")
                // No chunk runs past a multiple of 70, and the ones before it are balanced.
                #expect(ranges.allSatisfy { ($0.lowerBound - 1) / 70 == ($0.upperBound - 1) / 70 }, "size \(size)")
                if size == 64 { #expect(ranges.contains(71...105) && ranges.contains(106...140)) }
            }
        }
        // Stopping early reports the last seq handed over: 1,000 records in chunks of at most
        // 64 are sixteen chunks of 63 (the last 55).
        #expect(try store.summarizeRecordsInParallel(chunkSize: 64, summarize: { $0.count }) { _, _ in false } == 63)
    }

    @Test("a damaged record ends a summary with a typed error naming it; the chunks before it are delivered")
    func summaryOverDamage() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try store.appendBlocking(Self.variedEvents(400))
        try store.env.write { txn in
            guard var record = try txn.get(txn.dbs.events, Key.seq(300)).map(Array.init) else { return }
            record[0] = 0xee  // no such format version
            try txn.put(txn.dbs.events, Key.seq(300), record)
        }
        for inPlace in [true, false] {
            var delivered: [ClosedRange<UInt64>] = []
            do {
                if inPlace {
                    try store.summarizeRecordsInParallel(chunkSize: 50, summarize: { $0.count }) { _, range in delivered.append(range); return true }
                } else {
                    try store.summarizeInParallel(chunkSize: 50, summarize: { $0.count }) { _, range in delivered.append(range); return true }
                }
                Issue.record("the summary passed over a damaged record (in place: \(inPlace))")
            } catch let error {
                guard case .corrupt(let seq, _) = error else { Issue.record("unexpected error \(error)"); continue }
                #expect(seq == 300)
            }
            #expect(delivered.last?.upperBound == 250, "in place: \(inPlace)")
        }
    }

    @Test("what the straight-through reader accepts, the key-by-key reader reads the same; damage is refused by both")
    func straightThroughAgreesWithGeneralReader() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try store.appendBlocking(Self.variedEvents(60))
        let records: [[UInt8]] = try store.env.read { txn in
            try (1...60).map { (seq: UInt64) in try txn.get(txn.dbs.events, Key.seq(seq)).map(Array.init) ?? [] }
        }
        func same(_ a: RecordView, _ b: RecordView) -> Bool {
            a.seq == b.seq && a.version == b.version && a.time == b.time && a.hlc == b.hlc && a.hash == b.hash
                && a.prev == b.prev && a.node.string == b.node.string && a.stream.string == b.stream.string
                && a.type.string == b.type.string && a.idOffset == b.idOffset && a.dataRange == b.dataRange
                && a.tagsOffset == b.tagsOffset && a.causationOffset == b.causationOffset
                && a.correlationOffset == b.correlationOffset
        }
        var rng = SplitMix64(seed: 11)
        var refusedByBoth = 0
        for (index, original) in records.enumerated() {
            let seq = UInt64(index + 1)
            try original.withUnsafeBytes { bytes in
                let fast = try Record.view(bytes, expectedSeq: seq)
                let general = try Record.view(bytes, expectedSeq: seq, straightThrough: false)
                #expect(same(fast, general))
                let readStraightThrough = withUnsafeTemporaryAllocation(of: RecordView.self, capacity: 1) { slot in
                    slot.baseAddress.map {
                        CanonicalEnvelope.read(bytes, offset: Record.headerSize, payloadLength: general.dataRange.count,
                                               expectedSeq: seq, into: $0)
                    } ?? false
                }
                #expect(readStraightThrough)
            }
            // Damage: every envelope byte in turn gets a random different value.
            for position in Record.headerSize..<original.count {
                var damaged = original
                damaged[position] ^= UInt8(truncatingIfNeeded: 1 + rng.next() % 255)
                damaged.withUnsafeBytes { bytes in
                    let straight = try? Record.view(bytes, expectedSeq: seq)
                    let general = try? Record.view(bytes, expectedSeq: seq, straightThrough: false)
                    if let straight {
                        guard let general else { Issue.record("seq \(seq) byte \(position): accepted straight through only"); return }
                        #expect(same(straight, general), "seq \(seq) byte \(position)")
                    } else if general == nil {
                        refusedByBoth += 1
                    }
                }
            }
        }
        #expect(refusedByBoth > 0)
    }

    @Test("a damaged record ends an in-place scan, sequential or parallel, with a typed error naming it; nothing after it is delivered")
    func damagedRecordEndsScan() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try store.appendBlocking(Self.variedEvents(200))
        let stream = Array(try #require(try store.event(at: 50)).stream.utf8)
        try store.env.write { txn in
            guard var record = try txn.get(txn.dbs.events, Key.seq(50)),
                  let at = record.indices.first(where: { record[$0...].starts(with: stream) }) else {
                Issue.record("no stream name in record 50")
                return
            }
            record[at] = 0xff  // the stream name is no longer UTF-8
            try txn.put(txn.dbs.events, Key.seq(50), record)
        }
        for parallel in [false, true] {
            var delivered: [UInt64] = []
            do {
                if parallel {
                    try store.scanRecordsInParallel(chunkSize: 16, runLength: 8) { run in delivered += run.map(\.seq); return true }
                } else {
                    try store.scanRecords(runLength: 8) { run in delivered += run.map(\.seq); return true }
                }
                Issue.record("the scan passed over a damaged record (parallel: \(parallel))")
            } catch let error {
                guard case .corrupt(let seq, _) = error else { Issue.record("unexpected error \(error)"); continue }
                #expect(seq == 50)
            }
            #expect(delivered.allSatisfy { $0 < 50 } && delivered == Array(1...UInt64(delivered.count)), "parallel: \(parallel)")
        }
    }

    @Test("the straight-through reader's key words are the keys' encodings")
    func envelopeKeyWords() {
        for (name, key) in CanonicalEnvelope.Keys.all { #expect(key == EncodedKey(name), "\(name)") }
    }
}
