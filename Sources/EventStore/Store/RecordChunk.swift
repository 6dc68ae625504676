/// The records of one chunk of a parallel scan, copied out of the store (one read transaction,
/// one copy) and viewed in place in that copy, so that no transaction outlives its job.
final class RecordChunk: @unchecked Sendable {
    // @unchecked: built by one job, then read by the consumer only.
    private let storage: ChunkStorage
    private let pool: ChunkStoragePool?
    let count: Int

    static let empty = RecordChunk()

    private init() {
        storage = ChunkStorage()
        pool = nil
        count = 0
    }

    init(store: EventStore, from low: UInt64, through high: UInt64) throws(StoreError) {
        let storage = store.chunkStorage.take()
        let records = Int(high - low + 1)
        do throws(StoreError) {
            try store.storeCall {
                try store.env.read { txn in
                    // The records are located first, so the copy is sized once.
                    var located: [UnsafeRawBufferPointer] = []
                    located.reserveCapacity(records)
                    _ = try txn.walkRecords(from: low, to: high) { _, record in located.append(record); return true }
                    storage.fill(with: located)
                }
            }
            // Views are made in a pass of their own, after the whole copy: viewing each record
            // beside its copy made the copies wait on each record's cache misses in turn,
            // where back-to-back copies overlap them (measured: a third slower; BENCHMARKS.md).
            try storage.makeViews(firstSeq: low)
        } catch {
            store.chunkStorage.give(storage)
            throw error
        }
        self.storage = storage
        pool = store.chunkStorage
        count = records
    }

    deinit { pool?.give(storage) }

    func run(_ range: Range<Int>) -> RecordRun { RecordRun(base: storage.views, bounds: range) }
}

/// A chunk's buffers: its records' bytes back to back, where each ends, and their views. Kept
/// in a pool and reused, because fresh multi-megabyte buffers per chunk cost a page fault per
/// page and, once freed, stay with the allocator: the process grew with every long replay.
final class ChunkStorage {
    private var bytes: UnsafeMutableRawPointer
    private var byteCapacity: Int
    private var ends: [Int] = []
    private(set) var views: UnsafeMutablePointer<RecordView>
    private var viewCapacity: Int

    init() {
        byteCapacity = 1 << 16
        bytes = .allocate(byteCount: byteCapacity, alignment: 16)
        viewCapacity = 256
        views = .allocate(capacity: viewCapacity)
    }

    deinit {
        bytes.deallocate()
        views.deallocate()
    }

    /// Replaces the contents with copies of `records`, back to back. One pass over locals: the
    /// class's properties are read and written once, not per record (each access of a class's
    /// stored property is checked for exclusivity at run time, about 80 instructions a record).
    func fill(with records: [UnsafeRawBufferPointer]) {
        let total = records.reduce(0) { $0 + $1.count }
        if viewCapacity < records.count {
            views.deallocate()
            viewCapacity = records.count
            views = .allocate(capacity: records.count)
        }
        if byteCapacity < total {
            bytes.deallocate()
            byteCapacity = total
            bytes = .allocate(byteCount: total, alignment: 16)
        }
        let destination = bytes
        var filled = 0
        var recordEnds: [Int] = []
        swap(&recordEnds, &ends) // taken out, so that appending to it copies nothing
        recordEnds.removeAll(keepingCapacity: true)
        recordEnds.reserveCapacity(records.count)
        for record in records {
            if let source = record.baseAddress { (destination + filled).copyMemory(from: source, byteCount: record.count) }
            filled += record.count
            recordEnds.append(filled)
        }
        ends = recordEnds
    }

    func makeViews(firstSeq: UInt64) throws(StoreError) {
        let bytes = self.bytes, views = self.views, ends = self.ends // read once, as in `fill`
        var start = 0
        for (index, end) in ends.enumerated() {
            let record = UnsafeRawBufferPointer(start: bytes + start, count: end - start)
            // RecordView holds only numbers and pointers: no deinitialisation is ever needed.
            try Record.initializeView(at: views + index, record, expectedSeq: firstSeq + UInt64(index))
            start = end
        }
    }
}

/// Chunk buffers kept between parallel scans of one store: as many as one scan has alive at
/// once with the default four in flight (four ahead, one being consumed).
final class ChunkStoragePool: @unchecked Sendable {
    // @unchecked: `idle` is guarded by `lock`; a storage belongs to one chunk at a time.
    private let lock = Mutex()
    private var idle: [ChunkStorage] = []
    private let keep = 5

    func take() -> ChunkStorage { lock.withLock { idle.popLast() } ?? ChunkStorage() }

    func give(_ storage: ChunkStorage) { lock.withLock { if idle.count < keep { idle.append(storage) } } }
}
