/// The stored form of an event: `[format version][hash: 32 bytes][payload length: 4 bytes, big
/// endian][canonical envelope]` (format 2; format 1 records, without the payload length, are
/// still read). The payload length lets a replay that does not need payloads jump over them.
///
/// The canonical envelope is deterministic CBOR of the envelope without `hash`, with keys in
/// RFC 8949 order: `id, hlc{wall, logical}, seq, data, node, prev, tags, time (int ns), type,
/// stream, version, causation, correlation`. `tags` is left out when empty, `causation` and
/// `correlation` when absent. `hash` = SHA-256(prev ‖ canonical envelope).
enum Record {
    static let formatVersion: UInt8 = 2
    static let headerSize = 37

    /// Header bytes before the canonical envelope, per record format; nil for an unknown one.
    static func headerSize(_ version: UInt8) -> Int? {
        switch version {
        case 1: return 33
        case 2: return 37
        default: return nil
        }
    }

    /// The canonical envelope inside a stored record (what the hash covers).
    static func canonicalPart(_ record: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        guard let first = record.first, let size = headerSize(first), record.count > size else { return nil }
        return UnsafeRawBufferPointer(rebasing: record[size...])
    }

    /// An envelope: the parts the store assigns, and the appender's parts already encoded.
    struct Parts {
        var seq: UInt64
        var id: RecordID
        var time: Timestamp
        var hlc: HLC
        var node: String
        var version: UInt64
        var prev: Digest
        var appender: AppenderParts
    }

    /// An event's id: as given, or generated from the clock (`NODE:WALL:LOGICAL`) and written
    /// into the record without building the text first.
    enum RecordID {
        case text(String)
        case generated(node: String, wall: Int64, logical: UInt32)
    }

    static func canonicalBytes(_ p: Parts) -> [UInt8] {
        var w = CBORWriter(capacity: 128 + p.appender.bytes.count)
        writeCanonical(p, to: &w)
        return w.bytes
    }

    /// The stored record of `p`, built in `w` (emptied first; the writer appends record after
    /// record into one reused buffer), and its hash: the header is reserved, the canonical
    /// envelope written after it and hashed in place, then the header filled in.
    static func encode(_ p: Parts, hasher: SHA256Hasher, into w: inout CBORWriter) -> Digest {
        w.reset()
        w.appendZeros(headerSize)
        writeCanonical(p, to: &w)
        return w.withUnsafeMutableBytes { record -> Digest in
            let hash = hasher.digest(prev: p.prev, canonical: UnsafeRawBufferPointer(rebasing: record[headerSize...]))
            record[0] = formatVersion
            hash.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: record[1..<33]).copyMemory(from: $0) }
            record.storeBytes(of: UInt32(truncatingIfNeeded: p.appender.payloadCount).bigEndian, toByteOffset: 33, as: UInt32.self)
            return hash
        }
    }

    /// Envelope keys, as the words of their CBOR text (the encodings the reader matches). Literal
    /// words are static data: keys kept as arrays cost a lazy-initialisation check and a retain
    /// and release each time one was written, half of a record's assembly (`perf`).
    typealias Keys = CanonicalEnvelope.Keys

    /// The canonical envelope: the store's parts placed between the appender's, in key order.
    private static func writeCanonical(_ p: Parts, to w: inout CBORWriter) {
        let a = p.appender
        w.mapHead(10 + a.optionalEntries)
        w.key(Keys.id)
        switch p.id {
        case .text(let id): w.string(id)
        case .generated(let node, let wall, let logical): IdKey.writeGeneratedID(node: node, wall: wall, logical: logical, to: &w)
        }
        w.key(Keys.hlc); w.mapHead(2)
        w.key(Keys.wall); w.int(p.hlc.wall)
        w.key(Keys.logical); w.uint(UInt64(p.hlc.logical))
        w.key(Keys.seq); w.uint(p.seq)
        a.bytes.withUnsafeBytes { parts in
            w.key(Keys.data); w.appendRawBytes(UnsafeRawBufferPointer(rebasing: parts[..<a.payloadCount]))
            w.key(Keys.node); w.string(p.node)
            w.key(Keys.prev); w.digest(p.prev)
            w.appendRawBytes(UnsafeRawBufferPointer(rebasing: parts[a.payloadCount..<a.tagsEnd]))
            w.key(Keys.time); w.int(p.time.nanoseconds)
            w.appendRawBytes(UnsafeRawBufferPointer(rebasing: parts[a.tagsEnd..<a.namesEnd]))
            w.key(Keys.version); w.uint(p.version)
            w.appendRawBytes(UnsafeRawBufferPointer(rebasing: parts[a.namesEnd...]))
        }
    }

    /// The canonical bytes of a complete event, for recomputing its hash from any form of it
    /// (for example an exported JSON line).
    static func canonicalBytes(of e: Event) -> [UInt8] {
        canonicalBytes(Parts(seq: e.seq, id: .text(e.id), time: e.time, hlc: e.hlc, node: e.node, version: e.version,
                             prev: e.prev, appender: AppenderParts(data: e.data, tags: e.tags, type: e.type, stream: e.stream,
                                                                   causation: e.causation, correlation: e.correlation)))
    }

    /// The hash a record claims, without decoding the rest.
    static func storedHash(_ record: UnsafeRawBufferPointer) -> Digest? {
        guard record.count >= 33, let start = record.baseAddress else { return nil }
        return Digest(raw: start + 1)
    }

    /// Decodes a stored record: its envelope in place (`view`), then the parts `fields` asks
    /// for. Every structural fault (wrong version, truncation, a missing or mistyped field, a
    /// seq that disagrees with the key it is stored under) is a typed error naming the position.
    static func decode(_ record: UnsafeRawBufferPointer, expectedSeq: UInt64, fields: EventFields = .all,
                       interner: StringInterner? = nil) throws(StoreError) -> Event {
        try decode(view(record, expectedSeq: expectedSeq), fields: fields, interner: interner)
    }

    /// The event of a record already viewed, with the optional parts `fields` names.
    static func decode(_ view: RecordView, fields: EventFields = .all, interner: StringInterner? = nil) throws(StoreError) -> Event {
        try corruptOnFailure(seq: view.seq) { try view.event(fields: fields, interner: interner) }
    }
}

extension RecordView {
    /// The event, with the optional parts `fields` names decoded (the rest read as empty).
    func event(fields: EventFields, interner: StringInterner?) throws -> Event {
        let record = UnsafeRawBufferPointer(start: start, count: count)
        func text(_ view: TextView) throws(CBORError) -> String {
            guard let interner else { return view.string }
            return try interner.text(view.bytes) { () throws(CBORError) -> String in view.string }
        }
        func string(at offset: Int) throws(CBORError) -> String? {
            guard offset >= 0 else { return nil }
            var r = CBORReader(record, offset: offset)
            return try r.readString()
        }
        var data = EventValue.map([:])
        if fields.contains(.payload) {
            var r = CBORReader(record, offset: dataRange.lowerBound)
            data = try r.readValue(depth: 0, interner: interner)
            guard r.offset == dataRange.upperBound else {
                throw StoreError.corrupt(seq: seq, "the header's payload length \(dataRange.count) disagrees with the payload (\(r.offset - dataRange.lowerBound) bytes)")
            }
            guard case .map = data else { throw StoreError.corrupt(seq: seq, "payload is not a map") }
        }
        var tags: [String: String] = [:]
        if fields.contains(.tags), tagsOffset >= 0 {
            var r = CBORReader(record, offset: tagsOffset)
            for _ in 0..<(try r.readMapHead()) {
                let k = try r.readString()
                tags[k] = try r.readString()
            }
        }
        let links = fields.contains(.links)
        return Event(seq: seq, id: links ? try string(at: idOffset) ?? "" : "", time: time, hlc: hlc,
                     node: try text(node), stream: try text(stream), version: version, type: try text(type),
                     tags: tags, data: data, causation: links ? try string(at: causationOffset) : nil,
                     correlation: links ? try string(at: correlationOffset) : nil, prev: prev, hash: hash)
    }
}

/// The field names of the stored envelope (and its `hlc`), recognised without allocating.
enum EnvelopeKey {
    case id, hlc, seq, data, node, prev, tags, time, type, stream, version, causation, correlation
    case wall, logical, unknown

    /// Matches a key by its length and its first, second and last bytes, which tell the
    /// envelope's keys apart: no call, no loop, no allocation. Decoding only needs to tell
    /// known keys apart; a damaged key name is `verify`'s to find (the record would no longer
    /// re-encode to its hashed bytes).
    @inline(__always)
    static func match(_ p: UnsafeRawPointer, count: Int) -> EnvelopeKey {
        guard count >= 2 else { return .unknown }
        let first = p.load(as: UInt8.self)
        let second = p.load(fromByteOffset: 1, as: UInt8.self)
        let last = p.load(fromByteOffset: count - 1, as: UInt8.self)
        func ascii(_ c: Unicode.Scalar) -> UInt8 { UInt8(ascii: c) }
        switch (count, first) {
        case (2, ascii("i")) where last == ascii("d"): return .id
        case (3, ascii("h")) where last == ascii("c"): return .hlc
        case (3, ascii("s")) where last == ascii("q"): return .seq
        case (4, ascii("d")) where last == ascii("a"): return .data
        case (4, ascii("n")) where last == ascii("e"): return .node
        case (4, ascii("p")) where last == ascii("v"): return .prev
        case (4, ascii("w")) where last == ascii("l"): return .wall
        case (4, ascii("t")):
            switch (second, last) {
            case (ascii("a"), ascii("s")): return .tags
            case (ascii("i"), ascii("e")): return .time
            case (ascii("y"), ascii("e")): return .type
            default: return .unknown
            }
        case (6, ascii("s")) where second == ascii("t") && last == ascii("m"): return .stream
        case (7, ascii("v")) where second == ascii("e") && last == ascii("n"): return .version
        case (7, ascii("l")) where second == ascii("o") && last == ascii("l"): return .logical
        case (9, ascii("c")) where second == ascii("a") && last == ascii("n"): return .causation
        case (11, ascii("c")) where second == ascii("o") && last == ascii("n"): return .correlation
        default: return .unknown
        }
    }
}

/// A key as it is encoded (head byte and UTF-8), packed into two little-endian words with masks,
/// for comparison against the record bytes without a loop. Plain words, no array: the decoder
/// walks a table of these per record, and a reference inside would cost a retain per key.
struct EncodedKey: Equatable {
    let length: Int
    let low: UInt64, lowMask: UInt64
    let high: UInt64, highMask: UInt64

    /// The key's CBOR text encoding.
    static func bytes(_ name: StaticString) -> [UInt8] {
        [UInt8(0x60 | name.utf8CodeUnitCount)] + UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
    }

    init(length: Int, low: UInt64, lowMask: UInt64, high: UInt64, highMask: UInt64) {
        (self.length, self.low, self.lowMask, self.high, self.highMask) = (length, low, lowMask, high, highMask)
    }

    init(_ name: StaticString) {
        let bytes = Self.bytes(name)
        length = bytes.count
        var low: UInt64 = 0, lowMask: UInt64 = 0, high: UInt64 = 0, highMask: UInt64 = 0
        for (i, byte) in bytes.enumerated() {
            if i < 8 {
                low |= UInt64(byte) << (8 * UInt64(i))
                lowMask |= 0xff << (8 * UInt64(i))
            } else {
                high |= UInt64(byte) << (8 * UInt64(i - 8))
                highMask |= 0xff << (8 * UInt64(i - 8))
            }
        }
        (self.low, self.lowMask, self.high, self.highMask) = (low, lowMask, high, highMask)
    }
}

/// Which optional parts of an event a reader wants decoded. Skipping the rest makes a replay that
/// needs only the envelope several times faster. Skipped strings read as empty, skipped tags as
/// an empty map, a skipped payload as an empty map.
public struct EventFields: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `data`.
    public static let payload = EventFields(rawValue: 1)
    /// `tags`.
    public static let tags = EventFields(rawValue: 2)
    /// `id`, `causation` and `correlation`.
    public static let links = EventFields(rawValue: 4)
    /// Everything; `seq`, `time`, `hlc`, `node`, `stream`, `version`, `type`, `prev` and `hash`
    /// are always decoded.
    public static let all: EventFields = [.payload, .tags, .links]
    /// Only the always-decoded envelope fields.
    public static let envelope: EventFields = []
}

extension CBORReader {
    mutating func skipText() throws(CBORError) {
        let (major, argument, _) = try head()
        guard major == 3 else { throw fail("expected a text string") }
        guard argument <= UInt64(base.count - offset) else { throw fail("length \(argument) exceeds the data") }
        offset += Int(argument)
    }

    @inline(__always)
    mutating func readEnvelopeKey() throws(CBORError) -> EnvelopeKey {
        let (major, argument, _) = try head()
        guard major == 3 else { throw fail("expected a text string") }
        guard argument <= UInt64(base.count - offset) else { throw fail("length \(argument) exceeds the data") }
        let count = Int(argument)
        defer { offset += count }
        guard let start = base.baseAddress else { return .unknown }
        return EnvelopeKey.match(start + offset, count: count)
    }

    /// A 32-byte byte string as a digest, without an intermediate array; nil for another length.
    mutating func readDigest() throws(CBORError) -> Digest? {
        let (major, argument, _) = try head()
        guard major == 2 else { throw fail("expected a byte string") }
        guard argument <= UInt64(base.count - offset) else { throw fail("length \(argument) exceeds the data") }
        let count = Int(argument)
        defer { offset += count }
        guard count == 32, let start = base.baseAddress else { return nil }
        return Digest(raw: start + offset)
    }
}

/// The parts of a record its appender decides, encoded once on the appender's thread as the
/// canonical CBOR they take in the envelope: `data`'s value, the `tags` entry (when there are
/// tags), the `type` and `stream` entries, and the `causation` and `correlation` entries (when
/// present). The single writer thread only places the parts the store assigns between them, so
/// its serial work per event stays small; `verify` recomputes canonical bytes through the same
/// code, so the two cannot disagree.
struct AppenderParts: Sendable {
    /// The fragments, back to back.
    let bytes: [UInt8]
    /// The encoded payload is `bytes[..<payloadCount]`.
    let payloadCount: Int
    /// The tags entry ends here; the type and stream entries end at `namesEnd`.
    let tagsEnd: Int
    let namesEnd: Int
    /// How many of the optional entries (tags, causation, correlation) are present.
    let optionalEntries: Int
    /// Whether the payload holds a value the log refuses: a NaN or an infinity, or nesting
    /// deeper than `EventValue.maximumNestingLevel`.
    let payloadHasRefusedValue: Bool

    init(data: EventValue, tags: [String: String], type: String, stream: String, causation: String?, correlation: String?) {
        var w = CBORWriter(capacity: 256)
        w.value(data)
        payloadCount = w.bytes.count
        payloadHasRefusedValue = w.sawNonFinite || w.sawTooDeep
        var optional = 0
        if !tags.isEmpty {
            optional += 1
            w.key(Record.Keys.tags); w.mapHead(tags.count)
            CBORWriter.forEachInCanonicalOrder(tags) { key, value in w.string(key); w.string(value) }
        }
        tagsEnd = w.bytes.count
        w.key(Record.Keys.type); w.string(type)
        w.key(Record.Keys.stream); w.string(stream)
        namesEnd = w.bytes.count
        if let causation { optional += 1; w.key(Record.Keys.causation); w.string(causation) }
        if let correlation { optional += 1; w.key(Record.Keys.correlation); w.string(correlation) }
        optionalEntries = optional
        bytes = w.bytes
    }
}
