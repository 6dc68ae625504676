import CLMDB
import Dispatch

/// Decoded chunks of a parallel scan, handed from the decoding jobs to the consumer in order.
private final class ChunkHandoff<Chunk>: @unchecked Sendable {
    // @unchecked: every field is guarded by `condition`.
    private let condition = Condition()
    /// A chunk, and the error that ended it early (what it holds before that still counts).
    typealias Result = (chunk: Chunk, error: StoreError?)

    private var ready: [Int: Result] = [:]
    private var stopped = false
    /// How many chunks there are, once the producer has cut the last one.
    private var total: Int?

    func deliver(_ index: Int, _ result: Result) {
        condition.locked {
            ready[index] = result
            condition.broadcast()
        }
    }

    func finish(total chunks: Int) {
        condition.locked {
            total = chunks
            condition.broadcast()
        }
    }

    /// Chunk `index` once it is made; nil when there is no such chunk.
    func take(_ index: Int) -> Result? {
        condition.locked {
            while ready[index] == nil {
                if let total, index >= total { return nil }
                condition.wait()
            }
            return ready.removeValue(forKey: index)
        }
    }

    func stop() { condition.locked { stopped = true } }
    var isStopped: Bool { condition.locked { stopped } }
}

extension EventStore {
    /// Like `scan`, but decodes chunks of the range on other cores while `body` consumes the
    /// previous ones, in log order. Decoding is most of a replay's cost, so on two cores a
    /// long replay runs up to twice as fast. At most `inFlight` chunks are decoded ahead, so
    /// memory stays bounded whatever the range. Short ranges are scanned directly.
    @discardableResult
    public func scanInParallel(from: UInt64 = 1, through: UInt64? = nil, fields: EventFields = .all,
                               chunkSize: Int = 4_096, inFlight: Int = 4,
                               _ body: (Event) throws -> Bool) throws(StoreError) -> UInt64 {
        let (start, end, size) = try parallelBounds(from: from, through: through, chunkSize: chunkSize)
        guard end >= start, end - start + 1 >= 2 * size else { return try scan(from: start, through: end, fields: fields, body) }
        var last = start - 1
        try inParallelChunks(from: start, through: end, chunkEnd: Self.chunks(of: size), inFlight: inFlight) { low, high in
            var events: [Event] = []
            events.reserveCapacity(Int(high - low + 1))
            do throws(StoreError) {
                try self.scan(from: low, through: high, fields: fields) { events.append($0); return true }
                return (events, nil)
            } catch {
                return (events, error)
            }
        } consume: { events in
            for event in events {
                let keepGoing = try body(event)
                last = event.seq
                if !keepGoing { return false }
            }
            return true
        }
        return last
    }

    /// Like `scanRecords`, but reads chunks of the range on other cores while `body` consumes
    /// the previous ones, in log order. Each chunk's records are copied out of the store in
    /// its own short read transaction and viewed in that copy, so no transaction outlives its
    /// job; a run is valid only during its call, as with `scanRecords`. Short ranges are
    /// scanned directly.
    @discardableResult
    public func scanRecordsInParallel(from: UInt64 = 1, through: UInt64? = nil, chunkSize: Int = 4_096,
                                      runLength: Int = 1_024, inFlight: Int = 4,
                                      _ body: (RecordRun) throws -> Bool) throws(StoreError) -> UInt64 {
        let (start, end, size) = try parallelBounds(from: from, through: through, chunkSize: chunkSize)
        guard end >= start, end - start + 1 >= 2 * size else {
            return try scanRecords(from: start, through: end, runLength: runLength, body)
        }
        var last = start - 1
        let length = max(1, runLength)
        try inParallelChunks(from: start, through: end, chunkEnd: Self.chunks(of: size), inFlight: inFlight) { low, high in
            do throws(StoreError) {
                return (try RecordChunk(store: self, from: low, through: high), nil)
            } catch {
                return (RecordChunk.empty, error)
            }
        } consume: { chunk in
            var index = 0
            while index < chunk.count {
                let run = chunk.run(index..<min(chunk.count, index + length))
                index = run.endIndex
                let keepGoing = try body(run)
                last = run[run.endIndex - 1].seq
                if !keepGoing { return false }
            }
            return true
        }
        return last
    }

    /// The range of a parallel scan (through the head by default) and its chunk size.
    func parallelBounds(from: UInt64, through: UInt64?, chunkSize: Int) throws(StoreError) -> (UInt64, UInt64, UInt64) {
        let end: UInt64
        if let through { end = through } else { end = try head().seq }
        return (max(from, 1), end, UInt64(max(1, chunkSize)))
    }

    /// Splits `start...end` into chunks (the one starting at `low` ends at `chunkEnd(low)`, or
    /// at `end`), makes them on other cores (at most `inFlight` ahead) and hands them to
    /// `consume` in order, until it returns false.
    func inParallelChunks<Chunk>(from start: UInt64, through end: UInt64, chunkEnd: @escaping @Sendable (UInt64) -> UInt64,
                                 inFlight: Int, produce: @escaping @Sendable (UInt64, UInt64) -> (Chunk, StoreError?),
                                 consume: (Chunk) throws -> Bool) throws(StoreError) {
        let handoff = ChunkHandoff<Chunk>()
        let slots = DispatchSemaphore(value: max(1, inFlight))
        let jobs = DispatchGroup()
        let producer = DispatchGroup()
        producer.enter()
        DispatchQueue.global().async {
            defer { producer.leave() }
            var index = 0
            defer { handoff.finish(total: index) }
            Self.forEachChunk(from: start, through: end, chunkEnd: chunkEnd) { low, high in
                slots.wait()
                if handoff.isStopped { slots.signal(); return false }
                let chunkIndex = index
                jobs.enter()
                DispatchQueue.global().async {
                    defer { jobs.leave() }
                    let (chunk, error) = produce(low, high)
                    handoff.deliver(chunkIndex, (chunk, error))
                }
                index += 1
                return true
            }
        }
        defer {
            handoff.stop()
            // Unblock a producer waiting for a slot, then wait for every job to finish.
            for _ in 0..<max(1, inFlight) { slots.signal() }
            producer.wait()
            jobs.wait()
        }
        var index = 0
        while let (chunk, error) = handoff.take(index) {
            index += 1
            slots.signal()
            if try !Self.consuming(chunk, consume) { return }
            if let error { throw error }
        }
    }

    /// `consume(chunk)`, with any error that is not the store's reported as an I/O error.
    static func consuming<Chunk>(_ chunk: Chunk, _ consume: (Chunk) throws -> Bool) throws(StoreError) -> Bool {
        do { return try consume(chunk) } catch let error as StoreError { throw error } catch {
            throw StoreError.io(operation: "replaying", code: -1, message: "\(error)")
        }
    }

    /// Calls `body` with each chunk of `start...end` in order (the one starting at `low` ends at
    /// `chunkEnd(low)`, or at `end`) until it returns false.
    static func forEachChunk<E: Error>(from start: UInt64, through end: UInt64, chunkEnd: (UInt64) -> UInt64,
                                       _ body: (UInt64, UInt64) throws(E) -> Bool) throws(E) {
        var low = start
        while low <= end {
            let high = min(end, max(low, chunkEnd(low)))
            if try !body(low, high) || high == end { return }
            low = high + 1
        }
    }

    /// Chunks of `size` records.
    static func chunks(of size: UInt64) -> @Sendable (UInt64) -> UInt64 {
        { low in low > .max - (size - 1) ? .max : low + (size - 1) }
    }
}
