extension EventStore {
    /// Reads chunks of the range on other cores and reduces each there with `summarize`, then
    /// hands the summaries to `body` in log order, with the seqs each covers; `body` returns
    /// false to stop. For work that can be done per chunk and combined afterwards (a
    /// projection whose runs combine, say): unlike `scanRecordsInParallel`, whose consumer
    /// still reads every record on one thread, every record is handled on the core that read
    /// it, while its bytes are in that core's cache.
    ///
    /// A chunk holds at most `chunkSize` records and never runs past a seq `endsAt` names: the
    /// chunk starting at `low` ends at or before `endsAt(low)` (the first seq at or after `low`
    /// at which the caller needs a summary to end, as at a snapshot point). A range shorter
    /// than two chunks is summarised on this thread, chunk by chunk, the same way. Returns the
    /// last seq handed to `body`.
    @discardableResult
    public func summarizeRecordsInParallel<Summary: Sendable>(
        from: UInt64 = 1, through: UInt64? = nil, chunkSize: Int = 8_192, inFlight: Int = 4,
        endsAt: @escaping @Sendable (UInt64) -> UInt64 = { _ in .max },
        summarize: @escaping @Sendable (RecordRun) -> Summary,
        _ body: (Summary, ClosedRange<UInt64>) throws -> Bool
    ) throws(StoreError) -> UInt64 {
        try summarizeChunks(from: from, through: through, chunkSize: chunkSize, inFlight: inFlight, endsAt: endsAt, body) { (low, high) throws(StoreError) in
            let chunk = try RecordChunk(store: self, from: low, through: high)
            return summarize(chunk.run(0..<chunk.count))
        }
    }

    /// `summarizeRecordsInParallel` for decoded events (with `fields`): each chunk's events
    /// are decoded and summarised on the core that read them.
    @discardableResult
    public func summarizeInParallel<Summary: Sendable>(
        from: UInt64 = 1, through: UInt64? = nil, fields: EventFields = .all, chunkSize: Int = 4_096, inFlight: Int = 4,
        endsAt: @escaping @Sendable (UInt64) -> UInt64 = { _ in .max },
        summarize: @escaping @Sendable (ArraySlice<Event>) -> Summary,
        _ body: (Summary, ClosedRange<UInt64>) throws -> Bool
    ) throws(StoreError) -> UInt64 {
        try summarizeChunks(from: from, through: through, chunkSize: chunkSize, inFlight: inFlight, endsAt: endsAt, body) { (low, high) throws(StoreError) in
            var events: [Event] = []
            events.reserveCapacity(Int(high - low + 1))
            try self.scan(from: low, through: high, fields: fields) { events.append($0); return true }
            return summarize(events[...])
        }
    }

    /// The chunking shared by both: `summarizeChunk` reads and reduces one chunk (on another
    /// core when the range is long enough); a chunk that fails to read ends the scan with its
    /// error once the chunks before it are consumed.
    private func summarizeChunks<Summary: Sendable>(
        from: UInt64, through: UInt64?, chunkSize: Int, inFlight: Int, endsAt: @escaping @Sendable (UInt64) -> UInt64,
        _ body: (Summary, ClosedRange<UInt64>) throws -> Bool,
        summarizeChunk: @escaping @Sendable (UInt64, UInt64) throws(StoreError) -> Summary
    ) throws(StoreError) -> UInt64 {
        let (start, end, size) = try parallelBounds(from: from, through: through, chunkSize: chunkSize)
        guard end >= start else { return start - 1 }
        // The records up to the next place a chunk must end are cut into equal chunks of at
        // most `size`: 10,000 between snapshot points in chunks of 8,192 would otherwise make
        // every other chunk 1,808 records, each with a whole chunk's summary to make and combine.
        let chunkEnd: @Sendable (UInt64) -> UInt64 = { low in
            let stop = min(end, max(low, endsAt(low)))
            let records = stop - low + 1
            let chunks = records / size + (records % size == 0 ? 0 : 1)
            return low + (records / chunks + (records % chunks == 0 ? 0 : 1)) - 1
        }
        typealias Made = (summary: Summary, range: ClosedRange<UInt64>)?
        let produce: @Sendable (UInt64, UInt64) -> (Made, StoreError?) = { low, high in
            do throws(StoreError) { return ((try summarizeChunk(low, high), low...high), nil) } catch { return (nil, error) }
        }
        var last = start - 1
        func consume(_ made: Made) throws -> Bool {
            guard let (summary, range) = made else { return true }
            let keepGoing = try body(summary, range)
            last = range.upperBound
            return keepGoing
        }
        if end - start + 1 >= 2 * size {
            try inParallelChunks(from: start, through: end, chunkEnd: chunkEnd, inFlight: inFlight, produce: produce, consume: consume)
            return last
        }
        try Self.forEachChunk(from: start, through: end, chunkEnd: chunkEnd) { (low, high) throws(StoreError) in
            let (made, error) = produce(low, high)
            if let error { throw error }
            return try Self.consuming(made, consume)
        }
        return last
    }
}
