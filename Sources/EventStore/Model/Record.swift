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

    /// The parts of an envelope the store assigns, and the pre-encoded payload.
    struct Parts {
        var seq: UInt64
        var id: String
        var time: Timestamp
        var hlc: HLC
        var node: String
        var stream: String
        var version: UInt64
        var type: String
        var tags: [String: String]
        var payload: [UInt8]
        var causation: String?
        var correlation: String?
        var prev: Digest
    }

    static func canonicalBytes(_ p: Parts) -> [UInt8] {
        var w = CBORWriter(capacity: 96 + p.payload.count + p.stream.utf8.count + p.type.utf8.count)
        writeCanonical(p, to: &w)
        return w.bytes
    }

    /// The stored record of `p` and its hash, built in one buffer: the header is reserved, the
    /// canonical envelope written after it and hashed in place, then the header filled in.
    static func encode(_ p: Parts, hasher: SHA256Hasher) -> (record: [UInt8], hash: Digest) {
        var w = CBORWriter(capacity: headerSize + 128 + p.payload.count + p.stream.utf8.count + p.type.utf8.count + p.id.utf8.count)
        w.appendZeros(headerSize)
        writeCanonical(p, to: &w)
        let hash = w.withUnsafeMutableBytes { record -> Digest in
            let hash = hasher.digest(prev: p.prev, canonical: UnsafeRawBufferPointer(rebasing: record[headerSize...]))
            record[0] = formatVersion
            hash.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: record[1..<33]).copyMemory(from: $0) }
            record.storeBytes(of: UInt32(truncatingIfNeeded: p.payload.count).bigEndian, toByteOffset: 33, as: UInt32.self)
            return hash
        }
        return (w.bytes, hash)
    }

    /// Envelope keys, pre-encoded as CBOR text (the same encodings the decoder matches).
    private enum Keys {
        static let id = EncodedKey("id").bytes, hlc = EncodedKey("hlc").bytes
        static let wall = EncodedKey("wall").bytes, logical = EncodedKey("logical").bytes
        static let seq = EncodedKey("seq").bytes, data = EncodedKey("data").bytes
        static let node = EncodedKey("node").bytes, prev = EncodedKey("prev").bytes
        static let tags = EncodedKey("tags").bytes, time = EncodedKey("time").bytes
        static let type = EncodedKey("type").bytes, stream = EncodedKey("stream").bytes
        static let version = EncodedKey("version").bytes, causation = EncodedKey("causation").bytes
        static let correlation = EncodedKey("correlation").bytes
    }

    private static func writeCanonical(_ p: Parts, to w: inout CBORWriter) {
        var count = 10
        if !p.tags.isEmpty { count += 1 }
        if p.causation != nil { count += 1 }
        if p.correlation != nil { count += 1 }
        w.mapHead(count)
        w.appendRawBytes(Keys.id); w.string(p.id)
        w.appendRawBytes(Keys.hlc); w.mapHead(2)
        w.appendRawBytes(Keys.wall); w.int(p.hlc.wall)
        w.appendRawBytes(Keys.logical); w.uint(UInt64(p.hlc.logical))
        w.appendRawBytes(Keys.seq); w.uint(p.seq)
        w.appendRawBytes(Keys.data); w.appendRawBytes(p.payload)
        w.appendRawBytes(Keys.node); w.string(p.node)
        w.appendRawBytes(Keys.prev); w.digest(p.prev)
        if !p.tags.isEmpty {
            w.appendRawBytes(Keys.tags); w.mapHead(p.tags.count)
            for (key, value) in CBORWriter.canonicallyOrdered(p.tags) { w.string(key); w.string(value) }
        }
        w.appendRawBytes(Keys.time); w.int(p.time.nanoseconds)
        w.appendRawBytes(Keys.type); w.string(p.type)
        w.appendRawBytes(Keys.stream); w.string(p.stream)
        w.appendRawBytes(Keys.version); w.uint(p.version)
        if let c = p.causation { w.appendRawBytes(Keys.causation); w.string(c) }
        if let c = p.correlation { w.appendRawBytes(Keys.correlation); w.string(c) }
    }

    /// The canonical bytes of a complete event, for recomputing its hash from any form of it
    /// (for example an exported JSON line).
    static func canonicalBytes(of e: Event) -> [UInt8] {
        canonicalBytes(Parts(seq: e.seq, id: e.id, time: e.time, hlc: e.hlc, node: e.node, stream: e.stream,
                             version: e.version, type: e.type, tags: e.tags, payload: CBORWriter.encode(e.data),
                             causation: e.causation, correlation: e.correlation, prev: e.prev))
    }

    /// The hash a record claims, without decoding the rest.
    static func storedHash(_ record: UnsafeRawBufferPointer) -> Digest? {
        guard record.count >= 33, let start = record.baseAddress else { return nil }
        return Digest(raw: start + 1)
    }

    /// Decodes a stored record. Every structural fault (wrong version, truncation, a missing or
    /// mistyped field, a seq that disagrees with the key it is stored under) is a typed error
    /// naming the position.
    static func decode(_ record: UnsafeRawBufferPointer, expectedSeq: UInt64, fields: EventFields = .all,
                       interner: StringInterner? = nil) throws(StoreError) -> Event {
        guard let version = record.first, let size = headerSize(version) else {
            throw .corrupt(seq: expectedSeq, "unknown record format version \(record.first ?? 0)")
        }
        guard record.count > size, let start = record.baseAddress else {
            throw .corrupt(seq: expectedSeq, "record is \(record.count) bytes, shorter than its header")
        }
        guard let hash = storedHash(record) else { throw .corrupt(seq: expectedSeq, "record header") }
        let payloadLength = version >= 2 ? Int(UInt32(bigEndian: start.loadUnaligned(fromByteOffset: 33, as: UInt32.self))) : nil
        do {
            var r = CBORReader(record, offset: size)
            return try decodeEnvelope(&r, hash: hash, expectedSeq: expectedSeq, fields: fields, interner: interner,
                                      payloadLength: payloadLength)
        } catch let error as CBORError {
            throw .corrupt(seq: expectedSeq, error.description)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .corrupt(seq: expectedSeq, "\(error)")
        }
    }

    private static func decodeEnvelope(_ r: inout CBORReader, hash: Digest, expectedSeq: UInt64, fields: EventFields,
                                       interner: StringInterner?, payloadLength: Int?) throws -> Event {
        var seq: UInt64?, version: UInt64?, id: String?, node: String?, stream: String?, type: String?
        var time: Int64?, hlc: HLC?, data: EventValue?, prev: Digest?
        var tags: [String: String] = [:]
        var causation: String?, correlation: String?
        let count = try r.readMapHead()
        // Keys arrive in canonical order, so each is first compared, as two words, with the
        // key expected next; only a surprise goes through the general matcher. Building a
        // String per key would cost more than the rest of the envelope.
        let order = EnvelopeKey.canonicalOrder
        var next = 0
        for _ in 0..<count {
            var key = EnvelopeKey.unknown
            while next < order.count {
                let expected = order[next]
                next += 1
                if r.take(expected.encoded) { key = expected.key; break }
                if !expected.optional { next = order.count }
            }
            if key == .unknown { key = try r.readEnvelopeKey() }
            switch key {
            case .id:
                if fields.contains(.links) { id = try r.readString() } else { try r.skipText(); id = "" }
            case .hlc: hlc = try decodeClock(&r, expectedSeq: expectedSeq)
            case .seq: seq = try r.readUInt()
            case .data:
                let start = r.offset
                if fields.contains(.payload) {
                    data = try r.readValue()
                    if let payloadLength, r.offset - start != payloadLength {
                        throw StoreError.corrupt(seq: expectedSeq, "the header's payload length \(payloadLength) disagrees with the payload (\(r.offset - start) bytes)")
                    }
                } else if let payloadLength {
                    // Format 2: jump over the payload; a wrong length shows up as malformed
                    // fields after it (and as a failed verify).
                    guard payloadLength <= r.base.count - r.offset else {
                        throw StoreError.corrupt(seq: expectedSeq, "the header's payload length \(payloadLength) exceeds the record")
                    }
                    r.offset += payloadLength
                    data = .map([:])
                } else {
                    try r.skipItem()
                    data = .map([:])
                }
            case .node: node = try r.readString(interner: interner)
            case .prev:
                prev = try r.readDigest()
                if prev == nil { throw StoreError.corrupt(seq: expectedSeq, "prev is not 32 bytes") }
            case .tags:
                guard fields.contains(.tags) else { try r.skipItem(); continue }
                for _ in 0..<(try r.readMapHead()) {
                    let k = try r.readString()
                    tags[k] = try r.readString()
                }
            case .time: time = try r.readInt()
            case .type: type = try r.readString(interner: interner)
            case .stream: stream = try r.readString(interner: interner)
            case .version: version = try r.readUInt()
            case .causation:
                if fields.contains(.links) { causation = try r.readString() } else { try r.skipText() }
            case .correlation:
                if fields.contains(.links) { correlation = try r.readString() } else { try r.skipText() }
            case .wall, .logical, .unknown: _ = try r.skipItem()
            }
        }
        guard r.isAtEnd else { throw StoreError.corrupt(seq: expectedSeq, "trailing bytes after the envelope") }
        guard let seq, let version, let id, let node, let stream, let type, let time, let hlc, let data, let prev else {
            throw StoreError.corrupt(seq: expectedSeq, "envelope lacks a required field")
        }
        guard seq == expectedSeq else {
            throw StoreError.corrupt(seq: expectedSeq, "record claims seq \(seq)")
        }
        guard case .map = data else { throw StoreError.corrupt(seq: expectedSeq, "payload is not a map") }
        return Event(seq: seq, id: id, time: Timestamp(nanoseconds: time), hlc: hlc, node: node, stream: stream,
                     version: version, type: type, tags: tags, data: data, causation: causation,
                     correlation: correlation, prev: prev, hash: hash)
    }

    private static func decodeClock(_ r: inout CBORReader, expectedSeq: UInt64) throws -> HLC {
        var wall: Int64?, logical: UInt64?
        for _ in 0..<(try r.readMapHead()) {
            switch try r.readEnvelopeKey() {
            case .wall: wall = try r.readInt()
            case .logical: logical = try r.readUInt()
            default: _ = try r.skipItem()
            }
        }
        guard let wall, let logical, logical <= UInt64(UInt32.max) else {
            throw StoreError.corrupt(seq: expectedSeq, "malformed hlc")
        }
        return HLC(wall: wall, logical: UInt32(logical))
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
/// for comparison against the record bytes without a loop.
struct EncodedKey {
    /// The key's CBOR text encoding.
    let bytes: [UInt8]
    let length: Int
    let low: UInt64, lowMask: UInt64
    let high: UInt64, highMask: UInt64

    init(_ name: StaticString) {
        let bytes = [UInt8(0x60 | name.utf8CodeUnitCount)] + UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        self.bytes = bytes
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

extension EnvelopeKey {
    /// The envelope's keys in canonical order; optional ones may be absent.
    static let canonicalOrder: [(encoded: EncodedKey, key: EnvelopeKey, optional: Bool)] = [
        (EncodedKey("id"), .id, false), (EncodedKey("hlc"), .hlc, false), (EncodedKey("seq"), .seq, false),
        (EncodedKey("data"), .data, false), (EncodedKey("node"), .node, false), (EncodedKey("prev"), .prev, false),
        (EncodedKey("tags"), .tags, true), (EncodedKey("time"), .time, false), (EncodedKey("type"), .type, false),
        (EncodedKey("stream"), .stream, false), (EncodedKey("version"), .version, false),
        (EncodedKey("causation"), .causation, true), (EncodedKey("correlation"), .correlation, true),
    ]
}

extension CBORReader {
    /// Consumes `key` if the next bytes are exactly it, compared as two masked words.
    @inline(__always)
    mutating func take(_ key: EncodedKey) -> Bool {
        guard let start = base.baseAddress else { return false }
        let remaining = base.count - offset
        guard remaining >= 16 else { return remaining >= key.length && takeNearEnd(key, start: start, remaining: remaining) }
        let low = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        guard low & key.lowMask == key.low else { return false }
        if key.highMask != 0 {
            let high = UInt64(littleEndian: start.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
            guard high & key.highMask == key.high else { return false }
        }
        offset += key.length
        return true
    }

    /// The same comparison for a key among the last 16 bytes of a record (the last key of
    /// every envelope), copying what is left instead of loading past the end.
    private mutating func takeNearEnd(_ key: EncodedKey, start: UnsafeRawPointer, remaining: Int) -> Bool {
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(start: start + offset, count: remaining)) }
        guard UInt64(littleEndian: words.0) & key.lowMask == key.low,
              UInt64(littleEndian: words.1) & key.highMask == key.high else { return false }
        offset += key.length
        return true
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

