import Testing
import Foundation
@testable import EventStore

@Suite("Codecs: deterministic CBOR, strict JSON, RFC 3339 times")
struct CodecTests {
    @Test("the same value always gives the same CBOR bytes, with keys in RFC 8949 order")
    func deterministicCBOR() throws {
        let a: EventValue = ["zeta": 1, "a": "x", "bb": [1.5, true, nil], "ccc": ["n": -3]]
        let b: EventValue = ["ccc": ["n": -3], "bb": [1.5, true, nil], "a": "x", "zeta": 1]
        #expect(CBORWriter.encode(a) == CBORWriter.encode(b))
        // "a" (1 char) < "bb" < "ccc" < "zeta": shorter keys first.
        let bytes = CBORWriter.encode(["zeta": 1, "a": 2])
        #expect(bytes == [0xa2, 0x61, 0x61, 0x02, 0x64, 0x7a, 0x65, 0x74, 0x61, 0x01])
        #expect(try CBORReader.decode(CBORWriter.encode(a)) == a)
    }

    @Test("map keys are ordered as their encoded bytes: shorter first, then bytewise, past sixteen bytes and beyond ASCII")
    func canonicalKeyOrdering() {
        var rng = SplitMix64(seed: 3)
        let alphabet = Array("ab/-ZÿЖ0".unicodeScalars)
        var keys: Set<String> = ["", "a", "b", "aa", String(repeating: "x", count: 16), String(repeating: "x", count: 17)]
        while keys.count < 600 {
            let length = Int(rng.next() % 24)
            // Long shared prefixes, so that ties past the first sixteen bytes are common.
            var key = rng.next() % 2 == 0 ? "service/s-prefix-" : ""
            for _ in 0..<length { key.unicodeScalars.append(alphabet[Int(rng.next() % UInt64(alphabet.count))]) }
            keys.insert(key)
        }
        let map = Dictionary(uniqueKeysWithValues: keys.map { ($0, 0) })
        let ordered = CBORWriter.canonicallyOrdered(map).map(\.key)
        // The reference: compare the encoded keys byte for byte.
        func encoded(_ key: String) -> [UInt8] { CBORWriter.encode(.string(key)) }
        let expected = keys.sorted { encoded($0).lexicographicallyPrecedes(encoded($1)) }
        #expect(ordered == expected)
    }

    @Test("the key sort orders like the standard sort for every size and shape, by quicksort or by heapsort alone")
    func keySort() {
        var random = SplitMix64(seed: 3)
        let sizes = Array(0...40) + [100, 255, 1_000, 5_000]
        for size in sizes {
            let shuffled = (0..<size).map { _ in Int(random.next() % UInt64(max(1, size / 2))) }
            let shapes: [[Int]] = [shuffled, shuffled.sorted(), shuffled.sorted(by: >), Array(repeating: 7, count: size),
                                   (0..<size).map { $0 < size / 2 ? $0 : size - $0 }]
            for (shape, values) in shapes.enumerated() {
                for depthLimit in [nil, 0, 1] {
                    var sorted = values
                    sorted.withUnsafeMutableBufferPointer { introsort($0, depthLimit: depthLimit, by: <) }
                    #expect(sorted == values.sorted(), "size \(size), shape \(shape), depth \(String(describing: depthLimit))")
                }
            }
        }
    }

    @Test("interned names equal freshly decoded ones, byte for byte; invalid UTF-8 is refused even beside cached names")
    func interning() throws {
        let interner = StringInterner()
        let names = ["a", "", "ab", "ab\u{0}", "node-7", "service/s-1234", "exactly16bytes!!", "seventeen bytes!!",
                     "breaker.transitioned", "ünïcødé", "service/s-1235"] + (0..<5_000).map { "stream/\($0)" }
        for round in 0..<3 {
            for name in names {
                var writer = CBORWriter()
                writer.string(name)
                let bytes = writer.bytes
                let decoded = try Self.readInterned(bytes, interner)
                #expect(decoded == name && Array(decoded.utf8) == Array(name.utf8), "round \(round): \(name)")
            }
        }
        for invalid: [UInt8] in [[0x62, 0xff, 0x61], [0x71] + Array(repeating: 0x61, count: 16).dropLast() + [0xc3]] {
            #expect(throws: CBORError.self) { try Self.readInterned(invalid, interner) }
        }
    }

    @Test("a name's words are its first sixteen bytes, zero-padded, at every length; no byte past the name is read")
    func nameWords() throws {
        var random = SplitMix64(seed: 7)
        var seen = Set<[UInt64]>()
        for length in 0...40 {
            let bytes = (0..<length).map { _ in UInt8(truncatingIfNeeded: random.next() | 1) }
            let words = try Self.atEndOfReadableMemory(bytes) { NameWords($0) }
            var expected: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &expected) { words in
                for (index, byte) in bytes.prefix(16).enumerated() { words[index] = byte }
            }
            #expect(words.first == expected.0 && words.second == expected.1 && words.length == length, "length \(length)")
            seen.insert([words.first, words.second, UInt64(words.length)])
        }
        #expect(seen.count == 41, "names of different lengths have different words")
    }

    @Test("a text is ASCII exactly when no byte has its high bit set, at every length and position; no byte past it is read")
    func asciiCheck() throws {
        for length in 0...40 {
            let plain = (0..<length).map { UInt8(0x20 + $0) }
            #expect(try Self.atEndOfReadableMemory(plain) { $0.isASCII }, "length \(length)")
            for position in 0..<length {
                var marked = plain
                marked[position] = 0xc3
                #expect(try !Self.atEndOfReadableMemory(marked) { $0.isASCII }, "length \(length), byte \(position)")
            }
        }
    }

    /// Runs `body` on a copy of `bytes` that ends where a page the process may not read begins,
    /// so that reading past the end crashes the test instead of passing unnoticed.
    static func atEndOfReadableMemory<T>(_ bytes: [UInt8], _ body: (UnsafeRawBufferPointer) -> T) throws -> T {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let region = try #require(mmap(nil, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0))
        defer { munmap(region, 2 * page) }
        try #require(mprotect(region + page, page, PROT_NONE) == 0)
        let start = region + page - bytes.count
        bytes.withUnsafeBytes { start.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(start), byteCount: bytes.count) }
        return body(UnsafeRawBufferPointer(start: start, count: bytes.count))
    }

    static func readInterned(_ bytes: [UInt8], _ interner: StringInterner) throws -> String {
        try bytes.withUnsafeBytes { raw in
            var reader = CBORReader(raw)
            return try reader.readString(interner: interner)
        }
    }

    @Test("floats take the shortest form that keeps the value; integers the shortest head")
    func shortestForms() {
        #expect(CBORWriter.encode(.double(1.5)) == [0xf9, 0x3e, 0x00])
        #expect(CBORWriter.encode(.double(0.1)).count == 9)
        #expect(CBORWriter.encode(.int(23)) == [0x17])
        #expect(CBORWriter.encode(.int(24)) == [0x18, 0x18])
        #expect(CBORWriter.encode(.int(-1)) == [0x20])
        #expect(CBORWriter.encode(.int(Int64.min)) == [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
    }

    @Test("corrupt CBOR is a typed error, never a crash or a huge allocation")
    func corruptCBOR() {
        // A byte string claiming 2^62 bytes, a truncated map, an indefinite length, a tag.
        for bytes: [UInt8] in [[0x5b, 0x40, 0, 0, 0, 0, 0, 0, 0], [0xa2, 0x61, 0x61], [0x9f], [0xc1, 0x00], [0x62, 0xff, 0xfe]] {
            #expect(throws: CBORError.self) { try CBORReader.decode(bytes) }
        }
        let deep = [UInt8](repeating: 0x81, count: 1000) + [0x00]
        #expect(throws: CBORError.self) { try CBORReader.decode(deep) }
    }

    @Test("JSON keeps integers and floats apart and round-trips through CBOR")
    func jsonNumbers() throws {
        let value = try JSONParser.parse(#"{"i": 3, "f": 3.0, "e": 1e3, "s": "a\"b\u00e9\ud83d\ude00", "n": null, "b": [true, false]}"#)
        #expect(value["i"] == .int(3))
        #expect(value["f"] == .double(3))
        #expect(value["e"] == .double(1000))
        #expect(value["s"] == .string("a\"bé😀"))
        let text = JSONWriter.encode(value)
        #expect(try JSONParser.parse(text) == value)
        #expect(try CBORReader.decode(CBORWriter.encode(value)) == value)
        #expect(JSONWriter.encode(.double(3)) == "3.0")
    }

    @Test("malformed JSON names the byte", arguments: [
        "{", "{\"a\":}", "[1,]", "01", "{\"a\":1,\"a\":2}", "\"\\ud800\"", "1 2", "{\"a\":1e}", "99999999999999999999",
    ])
    func malformedJSON(text: String) {
        #expect(throws: JSONError.self) { try JSONParser.parse(text) }
    }

    @Test("RFC 3339 parses offsets and fractions and formats with nine digits")
    func rfc3339() throws {
        let t = try #require(Timestamp(rfc3339: "2026-11-29T06:08:19.123456789Z"))
        #expect(t.rfc3339 == "2026-11-29T06:08:19.123456789Z")
        #expect(Timestamp(rfc3339: "2026-11-29T08:08:19.5+02:00")?.rfc3339 == "2026-11-29T06:08:19.500000000Z")
        #expect(Timestamp(rfc3339: "1969-12-31T23:59:59.999999999Z")?.nanoseconds == -1)
        #expect(Timestamp(nanoseconds: -1).rfc3339 == "1969-12-31T23:59:59.999999999Z")
        for bad in ["2026-13-01T00:00:00Z", "2026-11-29", "2026-11-29T06:08:19", "yesterday", "2026-11-29T06:08:19.Z"] {
            #expect(Timestamp(rfc3339: bad) == nil)
        }
    }

    @Test("the hash of an exported event can be recomputed from its JSON line alone")
    func offlineHash() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        _ = try store.appendBlocking([event(tags: ["service": "api"]), event("t.two", ["f": 0.25, "nested": ["x": [1, 2]]])])
        let hasher = try SHA256Hasher()
        for stored in try store.read().collect() {
            let line = Envelope.json(stored)
            let json = try JSONParser.parse(line)
            // Rebuild the canonical bytes from the JSON form.
            var rebuilt = stored
            rebuilt.data = try #require(json["data"])
            rebuilt.time = try #require(Timestamp(rfc3339: json["time"]?.stringValue ?? ""))
            let canonical = Record.canonicalBytes(of: rebuilt)
            let prev = try #require(Digest(hex: json["prev"]?.stringValue ?? ""))
            let hash = canonical.withUnsafeBytes { hasher.digest(prev: prev, canonical: $0) }
            #expect(hash.hex == json["hash"]?.stringValue)
        }
    }
}
