import Dispatch

/// Decoded chunks of a parallel scan, handed from the decoding jobs to the consumer in order.
private final class ChunkHandoff: @unchecked Sendable {
    // @unchecked: every field is guarded by `condition`.
    private let condition = Condition()
    /// A chunk's events, and the error that ended it early (the events before it still count).
    struct Chunk {
        var events: [Event]
        var error: StoreError?
    }

    private var ready: [Int: Chunk] = [:]
    private var stopped = false

    func deliver(_ index: Int, _ result: Chunk) {
        condition.locked {
            ready[index] = result
            condition.broadcast()
        }
    }

    func take(_ index: Int) -> Chunk {
        condition.locked {
            while ready[index] == nil { condition.wait() }
            return ready.removeValue(forKey: index) ?? Chunk(events: [], error: nil)
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
        let start = max(from, 1)
        let end: UInt64
        if let through { end = through } else { end = try head().seq }
        let size = UInt64(max(1, chunkSize))
        guard end >= start, end - start + 1 >= 2 * size else { return try scan(from: start, through: end, fields: fields, body) }
        let chunks = Int((end - start) / size) + 1
        let handoff = ChunkHandoff()
        let slots = DispatchSemaphore(value: max(1, inFlight))
        let jobs = DispatchGroup()
        let producer = DispatchGroup()
        producer.enter()
        DispatchQueue.global().async {
            defer { producer.leave() }
            for index in 0..<chunks {
                slots.wait()
                if handoff.isStopped { slots.signal(); return }
                let low = start + UInt64(index) * size
                let high = min(end, low + size - 1)
                jobs.enter()
                DispatchQueue.global().async {
                    defer { jobs.leave() }
                    var events: [Event] = []
                    events.reserveCapacity(Int(high - low + 1))
                    do {
                        try self.scan(from: low, through: high, fields: fields) { events.append($0); return true }
                        handoff.deliver(index, ChunkHandoff.Chunk(events: events, error: nil))
                    } catch {
                        let failure = error as? StoreError ?? .io(operation: "replaying", code: -1, message: "\(error)")
                        handoff.deliver(index, ChunkHandoff.Chunk(events: events, error: failure))
                    }
                }
            }
        }
        defer {
            handoff.stop()
            // Unblock a producer waiting for a slot, then wait for every job to finish.
            for _ in 0..<max(1, inFlight) { slots.signal() }
            producer.wait()
            jobs.wait()
        }
        var last = start - 1
        for index in 0..<chunks {
            let chunk = handoff.take(index)
            slots.signal()
            for event in chunk.events {
                let keepGoing: Bool
                do { keepGoing = try body(event) } catch let error as StoreError { throw error } catch {
                    throw StoreError.io(operation: "replaying", code: -1, message: "\(error)")
                }
                last = event.seq
                if !keepGoing { return last }
            }
            if let error = chunk.error { throw error }
        }
        return last
    }
}
