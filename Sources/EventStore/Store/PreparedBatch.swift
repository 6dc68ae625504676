/// An append call's events, validated and with their own parts encoded on the caller's thread,
/// so the single writer thread spends its time only on what must be serial.
struct PreparedBatch: Sendable {
    /// What the writer needs of one event: the fields it places or decides with, and the rest
    /// already encoded. Not the `NewEvent` itself: the writer retained and released every
    /// reference in it (payload map, tags, names) per event, a fifth of its time (`perf`).
    struct Item: Sendable {
        var id: String?
        var node: String?
        var hlc: HLC?
        var time: Timestamp?
        var stream: String
        /// The payload, tags, type, stream and links as they appear in the record.
        var parts: AppenderParts
    }

    var items: [Item]
    var expectations: [String: ExpectedVersion]
    var byteCount: Int

    /// One transaction carries at most this much (an import file is one batch).
    static let maximumBytes = 512 << 20

    init(_ events: [NewEvent], expecting: [String: ExpectedVersion], vocabularies: [any EventVocabulary] = []) throws(StoreError) {
        // Preparing slices of a large batch on both cores measured no faster here (A/B at 300K
        // events, batches of 1,000): a woken helper thread joined too late to share the work.
        let (items, bytes) = try PreparedBatch.prepare(events, vocabularies: vocabularies)
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

    /// Validates and encodes the events; the error names the event's index in the batch.
    private static func prepare(_ events: [NewEvent], vocabularies: [any EventVocabulary]) throws(StoreError) -> ([Item], Int) {
        var items: [Item] = []
        items.reserveCapacity(events.count)
        var bytes = 0
        for (index, event) in events.enumerated() {
            let parts: AppenderParts
            do {
                // The payload's values are checked by encoding them, walked again only to name
                // a refused one.
                try event.validate(payloadValues: false)
                parts = AppenderParts(data: event.data, tags: event.tags, type: event.type, stream: event.stream,
                                      causation: event.causation, correlation: event.correlation)
                if parts.payloadHasRefusedValue { try event.validatePayloadValues() }
            } catch {
                throw .invalidEvent(index: index, field: error.field, message: error.message)
            }
            for vocabulary in vocabularies {
                do { try vocabulary.validate(type: event.type, data: event.data) } catch {
                    throw .invalidEvent(index: index, field: error.field, message: "\(event.type): \(error.message)")
                }
            }
            guard parts.payloadCount <= NewEvent.maximumRecordBytes else {
                throw .invalidEvent(index: index, field: "data", message: "payload of \(parts.payloadCount) bytes exceeds \(NewEvent.maximumRecordBytes)")
            }
            bytes += parts.bytes.count + 128
            items.append(Item(id: event.id, node: event.node, hlc: event.hlc, time: event.time, stream: event.stream,
                              parts: parts))
        }
        return (items, bytes)
    }
}
