#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CLMDB

/// The entries of a run of records, grouped per index key. Records arrive in seq order, so the
/// values under one key arrive already in LMDB's duplicate order (seq, or version then seq):
/// grouping replaces a sort of every entry by a sort of the distinct keys.
///
/// Records are read in place (`RecordView`) and keys built from their bytes: the indexer makes
/// no `Event`, no `String` and no array per record. The keys are those `IndexBuilder.tagKeys`
/// and `Key.text` give for the decoded event, which `verify` checks.
struct PreparedIndexBatch {
    let from: UInt64
    let to: UInt64
    private(set) var count = 0
    private(set) var streams = IndexRuns(valueWords: 2)
    private(set) var types = IndexRuns(valueWords: 1)
    private(set) var tags = IndexRuns(valueWords: 1)
    /// `time` keys (time with the sign bit flipped, seq), nearly always already in order.
    private var times: [(UInt64, UInt64)] = []
    /// Where composite `tags` keys are assembled.
    private var scratch: [UInt8] = []

    init(from: UInt64, to: UInt64) {
        self.from = from
        self.to = to
        times.reserveCapacity(Int(to - from))
        scratch.reserveCapacity(256)
    }

    mutating func add(_ record: RecordView) throws(StoreError) {
        count += 1
        streams.add(record.stream.bytes, record.version, record.seq)
        types.add(record.type.bytes, record.seq)
        addTag(.node, record.node, record.seq)
        if let correlation = try record.correlation() { addTag(.correlation, correlation, record.seq) }
        try record.forEachTag { key, value in addTag(.tag, key, value: value, record.seq) }
        times.append((UInt64(bitPattern: record.time.nanoseconds) ^ (1 << 63), record.seq))
    }

    /// Adds `kind ‖ text` (or `kind ‖ text ‖ "=" ‖ value`) to the `tags` runs: the layout of
    /// `IndexBuilder.tagKey`, from the record's bytes.
    private mutating func addTag(_ kind: IndexBuilder.TagKind, _ text: TextView, value: TextView? = nil, _ seq: UInt64) {
        scratch.removeAll(keepingCapacity: true)
        scratch.append(kind.rawValue)
        scratch.append(contentsOf: text.bytes)
        if let value {
            scratch.append(IndexBuilder.tagSeparator)
            scratch.append(contentsOf: value.bytes)
        }
        scratch.withUnsafeBytes { tags.add($0, seq) }
    }

    /// Moves the `heads` entry of every stream of the batch to its last event here, unless
    /// the entry is already further on (a store written by format 3, whose appends kept the
    /// heads themselves).
    func updateHeads(_ txn: Transaction) throws {
        for (key, last) in streams.lastValues() {
            let version = last.first ?? 0, seq = last.last ?? 0
            if try StreamTail.stored(key: key, in: txn).lastSeq < seq {
                try txn.put(txn.dbs.heads, key, Key.pair(version, seq))
            }
        }
    }

    func insertTimes(_ txn: Transaction) throws {
        var ordered = times
        if zip(ordered, ordered.dropFirst()).contains(where: { $0 > $1 }) { ordered.sort { $0 < $1 } }
        let cursor = try txn.cursor(txn.dbs.time)
        defer { cursor.close() }
        var key = (UInt64(0), UInt64(0))
        for (time, seq) in ordered {
            key = (time.bigEndian, seq.bigEndian)
            try withUnsafeBytes(of: &key) { k in
                try cursor.putAppending(k, UnsafeRawBufferPointer(start: nil, count: 0), flag: MDB_APPEND)
            }
        }
    }
}

/// The entries of one duplicate-sorted index, grouped per key: each value is `valueWords`
/// big-endian UInt64s. Keys are bytes: hashed (FNV-1a) and compared where they lie, and copied
/// into the batch only the first time they are met.
struct IndexRuns {
    private let valueWords: Int
    /// Open addressing: 0 is empty, else the key's index + 1.
    private var slots = [Int32](repeating: 0, count: 1024)
    private var hashes: [UInt64] = []
    private var keys: [[UInt8]] = []
    private var values: [[UInt64]] = []

    init(valueWords: Int) { self.valueWords = valueWords }

    mutating func add(_ key: UnsafeRawBufferPointer, _ word: UInt64) {
        values[slot(key)].append(word)
    }

    mutating func add(_ key: UnsafeRawBufferPointer, _ first: UInt64, _ second: UInt64) {
        let slot = slot(key)
        values[slot].append(first)
        values[slot].append(second)
    }

    private mutating func slot(_ key: UnsafeRawBufferPointer) -> Int {
        let hash = NameWords.fnv1a(key)
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = Int(slots[index])
            if slot == 0 { break }
            if hashes[slot - 1] == hash, Self.equal(keys[slot - 1], key) { return slot - 1 }
            index = (index + 1) & mask
        }
        hashes.append(hash)
        keys.append(Array(key))
        values.append([])
        slots[index] = Int32(keys.count)
        if keys.count * 2 > slots.count { grow() }
        return keys.count - 1
    }

    private static func equal(_ stored: [UInt8], _ key: UnsafeRawBufferPointer) -> Bool {
        guard stored.count == key.count else { return false }
        return stored.withUnsafeBytes { s in
            guard let p = s.baseAddress, let q = key.baseAddress else { return true }
            return memcmp(p, q, key.count) == 0
        }
    }

    private mutating func grow() {
        slots = [Int32](repeating: 0, count: slots.count * 2)
        let mask = slots.count - 1
        for (index, hash) in hashes.enumerated() {
            var at = Int(truncatingIfNeeded: hash) & mask
            while slots[at] != 0 { at = (at + 1) & mask }
            slots[at] = Int32(index + 1)
        }
    }

    /// Each key with its last value (the `valueWords` words that arrived last).
    func lastValues() -> [(key: [UInt8], words: ArraySlice<UInt64>)] {
        zip(keys, values).map { ($0, $1.suffix(valueWords)) }
    }

    /// Inserts every entry, keys in LMDB order, each key's values in arrival order.
    func insert(_ txn: Transaction, _ dbi: MDB_dbi) throws {
        let order = keys.indices.sorted { IndexBuilder.compareBytes(keys[$0], keys[$1]) < 0 }
        let cursor = try txn.cursor(dbi)
        defer { cursor.close() }
        var value = [UInt64](repeating: 0, count: valueWords)
        for slot in order {
            try keys[slot].withUnsafeBytes { k in
                let words = values[slot]
                var start = 0
                while start < words.count {
                    for w in 0..<valueWords { value[w] = words[start + w].bigEndian }
                    try value.withUnsafeBytes { v in try cursor.putAppending(k, v, flag: MDB_APPENDDUP) }
                    start += valueWords
                }
            }
        }
    }
}

extension RecordView {
    /// The `correlation` text, read in place (nil when the event has none).
    func correlation() throws(StoreError) -> TextView? {
        guard correlationOffset >= 0 else { return nil }
        return try reading(at: correlationOffset) { (r: inout CBORReader) throws(CBORError) in try r.readTextView() }
    }

    /// Calls `body` with each tag's key and value, read in place.
    func forEachTag(_ body: (TextView, TextView) -> Void) throws(StoreError) {
        guard tagsOffset >= 0 else { return }
        try reading(at: tagsOffset) { (r: inout CBORReader) throws(CBORError) in
            for _ in 0..<(try r.readMapHead()) { body(try r.readTextView(), try r.readTextView()) }
        }
    }

    private func reading<T>(at offset: Int, _ read: (inout CBORReader) throws(CBORError) -> T) throws(StoreError) -> T {
        var reader = CBORReader(UnsafeRawBufferPointer(start: start, count: count), offset: offset)
        return try Record.corruptOnFailure(seq: seq) { try read(&reader) }
    }
}
