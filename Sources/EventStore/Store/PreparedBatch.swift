/// An append call's events, validated and with payloads encoded on the caller's thread, so the
/// single writer thread spends its time only on what must be serial.
struct PreparedBatch: Sendable {
    struct Item: Sendable {
        var event: NewEvent
        var payload: [UInt8]
    }

    var items: [Item]
    var expectations: [String: ExpectedVersion]
    var byteCount: Int

    /// One transaction carries at most this much (an import file is one batch).
    static let maximumBytes = 512 << 20

    init(_ events: [NewEvent], expecting: [String: ExpectedVersion]) throws(StoreError) {
        var items: [Item] = []
        items.reserveCapacity(events.count)
        var bytes = 0
        for (index, event) in events.enumerated() {
            do { try event.validate() } catch {
                throw .invalidEvent(index: index, field: error.field, message: error.message)
            }
            let payload = CBORWriter.encode(event.data)
            guard payload.count <= NewEvent.maximumRecordBytes else {
                throw .invalidEvent(index: index, field: "data", message: "payload of \(payload.count) bytes exceeds \(NewEvent.maximumRecordBytes)")
            }
            bytes += payload.count + event.stream.utf8.count + event.type.utf8.count + 128
            items.append(Item(event: event, payload: payload))
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
}
