/// The stored form of an event: `[format version][hash: 32 bytes][canonical envelope]`.
///
/// The canonical envelope is deterministic CBOR of the envelope without `hash`, with keys in
/// RFC 8949 order: `id, hlc{wall, logical}, seq, data, node, prev, tags, time (int ns), type,
/// stream, version, causation, correlation`. `tags` is left out when empty, `causation` and
/// `correlation` when absent. `hash` = SHA-256(prev ‖ canonical envelope).
enum Record {
    static let formatVersion: UInt8 = 1
    static let headerSize = 33

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
        var count = 10
        if !p.tags.isEmpty { count += 1 }
        if p.causation != nil { count += 1 }
        if p.correlation != nil { count += 1 }
        w.mapHead(count)
        w.string("id"); w.string(p.id)
        w.string("hlc"); w.mapHead(2)
        w.string("wall"); w.int(p.hlc.wall)
        w.string("logical"); w.uint(UInt64(p.hlc.logical))
        w.string("seq"); w.uint(p.seq)
        w.string("data"); w.appendRaw(p.payload)
        w.string("node"); w.string(p.node)
        w.string("prev"); w.byteString(p.prev.bytes)
        if !p.tags.isEmpty {
            w.string("tags"); w.mapHead(p.tags.count)
            for key in p.tags.keys.sorted(by: CBORWriter.canonicalKeyOrder) {
                w.string(key); w.string(p.tags[key] ?? "")
            }
        }
        w.string("time"); w.int(p.time.nanoseconds)
        w.string("type"); w.string(p.type)
        w.string("stream"); w.string(p.stream)
        w.string("version"); w.uint(p.version)
        if let c = p.causation { w.string("causation"); w.string(c) }
        if let c = p.correlation { w.string("correlation"); w.string(c) }
        return w.bytes
    }

    /// The canonical bytes of a complete event, for recomputing its hash from any form of it
    /// (for example an exported JSON line).
    static func canonicalBytes(of e: Event) -> [UInt8] {
        canonicalBytes(Parts(seq: e.seq, id: e.id, time: e.time, hlc: e.hlc, node: e.node, stream: e.stream,
                             version: e.version, type: e.type, tags: e.tags, payload: CBORWriter.encode(e.data),
                             causation: e.causation, correlation: e.correlation, prev: e.prev))
    }

    static func record(hash: Digest, canonical: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [formatVersion]
        out.reserveCapacity(headerSize + canonical.count)
        out.append(contentsOf: hash.bytes)
        out.append(contentsOf: canonical)
        return out
    }

    /// The hash a record claims, without decoding the rest.
    static func storedHash(_ record: UnsafeRawBufferPointer) -> Digest? {
        guard record.count >= headerSize else { return nil }
        return Digest(bytes: UnsafeRawBufferPointer(rebasing: record[1..<headerSize]))
    }

    /// Decodes a stored record. Every structural fault (wrong version, truncation, a missing or
    /// mistyped field, a seq that disagrees with the key it is stored under) is a typed error
    /// naming the position.
    static func decode(_ record: UnsafeRawBufferPointer, expectedSeq: UInt64, includePayload: Bool = true) throws(StoreError) -> Event {
        guard record.count > headerSize else {
            throw .corrupt(seq: expectedSeq, "record is \(record.count) bytes, shorter than its header")
        }
        guard record[0] == formatVersion else {
            throw .corrupt(seq: expectedSeq, "unknown record format version \(record[0])")
        }
        guard let hash = storedHash(record) else { throw .corrupt(seq: expectedSeq, "record header") }
        do {
            var r = CBORReader(record, offset: headerSize)
            return try decodeEnvelope(&r, hash: hash, expectedSeq: expectedSeq, includePayload: includePayload)
        } catch let error as CBORError {
            throw .corrupt(seq: expectedSeq, error.description)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .corrupt(seq: expectedSeq, "\(error)")
        }
    }

    private static func decodeEnvelope(_ r: inout CBORReader, hash: Digest, expectedSeq: UInt64, includePayload: Bool) throws -> Event {
        var seq: UInt64?, version: UInt64?, id: String?, node: String?, stream: String?, type: String?
        var time: Int64?, hlc: HLC?, data: EventValue?, prev: Digest?
        var tags: [String: String] = [:]
        var causation: String?, correlation: String?
        let count = try r.readMapHead()
        for _ in 0..<count {
            let key = try r.readString()
            switch key {
            case "id": id = try r.readString()
            case "hlc":
                var wall: Int64?, logical: UInt64?
                for _ in 0..<(try r.readMapHead()) {
                    switch try r.readString() {
                    case "wall": wall = try r.readInt()
                    case "logical": logical = try r.readUInt()
                    default: _ = try r.skipItem()
                    }
                }
                guard let wall, let logical, logical <= UInt64(UInt32.max) else {
                    throw StoreError.corrupt(seq: expectedSeq, "malformed hlc")
                }
                hlc = HLC(wall: wall, logical: UInt32(logical))
            case "seq": seq = try r.readUInt()
            case "data":
                if includePayload {
                    data = try r.readValue()
                } else {
                    try r.skipItem()
                    data = .map([:])
                }
            case "node": node = try r.readString()
            case "prev":
                prev = Digest(bytes: try r.readBytes())
                if prev == nil { throw StoreError.corrupt(seq: expectedSeq, "prev is not 32 bytes") }
            case "tags":
                for _ in 0..<(try r.readMapHead()) {
                    let k = try r.readString()
                    tags[k] = try r.readString()
                }
            case "time": time = try r.readInt()
            case "type": type = try r.readString()
            case "stream": stream = try r.readString()
            case "version": version = try r.readUInt()
            case "causation": causation = try r.readString()
            case "correlation": correlation = try r.readString()
            default: _ = try r.skipItem()
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
}

extension CBORWriter {
    /// Appends bytes that are already a complete CBOR item (a pre-encoded payload).
    mutating func appendRaw(_ item: [UInt8]) { appendRawBytes(item) }
}
