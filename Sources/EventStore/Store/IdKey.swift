import CLMDB

/// The key of an event id in the `ids` database (store format 3).
///
/// An id in the generated form `NODE:WALL:LOGICAL` (canonical decimals) is keyed as
/// `[1][wall: 8 bytes BE][logical: 4 bytes BE][node]`, so ids sort by their clock: the ids of a
/// commit land at the right edge of the tree, one or two pages, where keying by the text would
/// touch one page per node that appears in it. Any other id is keyed as `[0][id]`. The encoding
/// is one-to-one: a generated-form key is only made from the exact text it decodes back to.
enum IdKey {
    static func make(_ id: String) -> [UInt8] {
        if let parts = generatedParts(id) { return make(node: parts.node, wall: parts.wall, logical: parts.logical) }
        return [0] + Array(id.utf8)
    }

    static func make(node: String, wall: Int64, logical: UInt32) -> [UInt8] {
        var key: [UInt8] = []
        make(node: node, wall: wall, logical: logical, into: &key)
        return key
    }

    /// The key of a generated id, in `key` (emptied first): the writer reuses one buffer for
    /// every event instead of allocating a key each.
    static func make(node: String, wall: Int64, logical: UInt32, into key: inout [UInt8]) {
        key.removeAll(keepingCapacity: true)
        key.reserveCapacity(13 + node.utf8.count)
        key.append(1)
        withUnsafeBytes(of: UInt64(bitPattern: wall).bigEndian) { key.append(contentsOf: $0) }
        withUnsafeBytes(of: logical.bigEndian) { key.append(contentsOf: $0) }
        key.append(contentsOf: node.utf8)
    }

    /// The id the store generates for an event without one.
    static func generatedID(node: String, wall: Int64, logical: UInt32) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(node.utf8.count + 32)
        withDigits(wall: wall, logical: logical) { append(node: node, $0, $1, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The generated id as CBOR text, written straight into a record without a `String`.
    static func writeGeneratedID(node: String, wall: Int64, logical: UInt32, to writer: inout CBORWriter) {
        withDigits(wall: wall, logical: logical) { wallDigits, logicalDigits in
            writer.text(length: node.utf8.count + 2 + wallDigits.count + logicalDigits.count) {
                append(node: node, wallDigits, logicalDigits, to: &$0)
            }
        }
    }

    /// `NODE:WALL:LOGICAL`, built by hand: string interpolation of two integers cost more than
    /// the id's SHA-256.
    private static func append(node: String, _ wall: UnsafeRawBufferPointer, _ logical: UnsafeRawBufferPointer,
                               to bytes: inout [UInt8]) {
        bytes.append(contentsOf: node.utf8)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: wall)
        bytes.append(UInt8(ascii: ":"))
        bytes.append(contentsOf: logical)
    }

    private static func withDigits<R>(wall: Int64, logical: UInt32,
                                      _ body: (UnsafeRawBufferPointer, UnsafeRawBufferPointer) -> R) -> R {
        withDecimal(UInt64(bitPattern: wall), negative: wall < 0) { wallDigits in
            withDecimal(UInt64(logical), negative: false) { body(wallDigits, $0) }
        }
    }

    /// Calls `body` with the canonical decimal digits of a two's-complement value, formed on
    /// the stack.
    private static func withDecimal<R>(_ value: UInt64, negative: Bool, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        var magnitude = negative ? 0 &- value : value
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // room for a sign and the 20 digits of UInt64.max
        return withUnsafeMutableBytes(of: &digits) { buffer in
            var start = buffer.count
            repeat {
                start -= 1
                buffer[start] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if negative {
                start -= 1
                buffer[start] = UInt8(ascii: "-")
            }
            return body(UnsafeRawBufferPointer(rebasing: buffer[start...]))
        }
    }

    /// Splits an id of the generated form; nil for any other text, including non-canonical
    /// numbers ("007", "+7"), which would otherwise share a key with the canonical spelling.
    static func generatedParts(_ id: String) -> (node: String, wall: Int64, logical: UInt32)? {
        let utf8 = Array(id.utf8)
        guard let lastColon = utf8.lastIndex(of: UInt8(ascii: ":")), lastColon > 0,
              let middleColon = utf8[..<lastColon].lastIndex(of: UInt8(ascii: ":")), middleColon > 0,
              let wall = canonicalDecimal(utf8[(middleColon + 1)..<lastColon], maximum: UInt64(Int64.max)),
              let logical = canonicalDecimal(utf8[(lastColon + 1)...], maximum: UInt64(UInt32.max))
        else { return nil }
        return (String(decoding: utf8[..<middleColon], as: UTF8.self), Int64(wall), UInt32(logical))
    }

    private static func canonicalDecimal(_ digits: ArraySlice<UInt8>, maximum: UInt64) -> UInt64? {
        guard let first = digits.first, digits.count <= 19, first != UInt8(ascii: "0") || digits.count == 1 else { return nil }
        var value: UInt64 = 0
        for d in digits {
            guard d >= UInt8(ascii: "0"), d <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + UInt64(d - UInt8(ascii: "0"))
        }
        return value <= maximum ? value : nil
    }

    /// Rewrites the `ids` database in this encoding from the log (an upgrade from format 2 or
    /// older, whose keys were the id text).
    static func rebuild(_ txn: Transaction) throws {
        try txn.clear(txn.dbs.ids)
        let cursor = try txn.cursor(txn.dbs.events)
        defer { cursor.close() }
        var entry = try cursor.get(MDB_FIRST)
        while let current = entry {
            let seq = try Key.readUInt64(current.key)
            let event = try Record.decode(current.value, expectedSeq: seq, fields: .links)
            try txn.put(txn.dbs.ids, make(event.id), Key.seq(seq))
            entry = try cursor.get(MDB_NEXT)
        }
    }
}
