import Dispatch
import Foundation

/// An append call's events, validated and with their own parts encoded on the caller's side, so
/// the single writer thread spends its time only on what must be serial.
struct PreparedBatch: Sendable {
    struct Item: Sendable {
        var event: NewEvent
        /// The payload, tags, type, stream and links as they appear in the record.
        var parts: AppenderParts
    }

    var items: [Item]
    var expectations: [String: ExpectedVersion]
    var byteCount: Int

    /// One transaction carries at most this much (an import file is one batch).
    static let maximumBytes = 512 << 20
    /// A batch at least this large is prepared in slices on every core: while a caller
    /// prepares, the writer is idle waiting for it, so the cores are free.
    static let parallelThreshold = 512

    init(_ events: [NewEvent], expecting: [String: ExpectedVersion]) throws(StoreError) {
        let slices = PreparedBatch.slices(count: events.count)
        var items: [Item] = []
        var bytes = 0
        if slices.count == 1 {
            (items, bytes) = try PreparedBatch.prepare(events, in: 0..<events.count)
        } else {
            let results = Mutex()
            nonisolated(unsafe) var prepared = [Result<([Item], Int), StoreError>?](repeating: nil, count: slices.count)
            DispatchQueue.concurrentPerform(iterations: slices.count) { n in
                let result = Result { () throws(StoreError) in try PreparedBatch.prepare(events, in: slices[n]) }
                results.withLock { prepared[n] = result }
            }
            items.reserveCapacity(events.count)
            // Slices run in parallel, but the first failing slice holds the first refused event.
            for result in prepared {
                guard let result else { continue }
                let (slice, sliceBytes) = try result.get()
                items.append(contentsOf: slice)
                bytes += sliceBytes
            }
        }
        guard bytes <= PreparedBatch.maximumBytes else { throw .batchTooLarge(bytes: bytes, maximum: PreparedBatch.maximumBytes) }
        for stream in expecting.keys {
            do { try NewEvent.checkName(stream, field: "expected stream") } catch {
                throw .invalidEvent(index: -1, field: error.field, message: error.message)
            }
        }
        self.items = items
        self.expectations = expecting
        self.byteCount = bytes
    }

    /// Contiguous slices of a batch, one per core for a large batch.
    private static func slices(count: Int) -> [Range<Int>] {
        let cores = ProcessInfo.processInfo.activeProcessorCount
        guard count >= parallelThreshold, cores > 1 else { return [0..<count] }
        let sliceCount = min(cores, count / (parallelThreshold / 2))
        return (0..<sliceCount).map { n in (count * n / sliceCount)..<(count * (n + 1) / sliceCount) }
    }

    /// Validates and encodes `events[range]`; the error names the event's index in the batch.
    private static func prepare(_ events: [NewEvent], in range: Range<Int>) throws(StoreError) -> ([Item], Int) {
        var items: [Item] = []
        items.reserveCapacity(range.count)
        var bytes = 0
        for index in range {
            let event = events[index]
            let parts: AppenderParts
            do {
                // The payload's values are checked by encoding them, walked again only to name
                // a refused one.
                try event.validate(payloadValues: false)
                parts = AppenderParts(data: event.data, tags: event.tags, type: event.type, stream: event.stream,
                                      causation: event.causation, correlation: event.correlation)
                if parts.payloadHasNonFinite { try event.validatePayloadValues() }
            } catch {
                throw .invalidEvent(index: index, field: error.field, message: error.message)
            }
            guard parts.payloadCount <= NewEvent.maximumRecordBytes else {
                throw .invalidEvent(index: index, field: "data", message: "payload of \(parts.payloadCount) bytes exceeds \(NewEvent.maximumRecordBytes)")
            }
            bytes += parts.bytes.count + 128
            items.append(Item(event: event, parts: parts))
        }
        return (items, bytes)
    }
}
