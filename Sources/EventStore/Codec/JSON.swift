/// A JSON syntax error with the byte offset where it was found.
public struct JSONError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "invalid JSON at byte \(offset + 1): \(message)" }
}

/// A strict JSON parser into `EventValue`. Integers (no fraction, no exponent) become `.int`,
/// other numbers `.double`, so the int/float distinction survives the round trip to CBOR and the
/// hash chain can be recomputed from JSON. Duplicate keys are an error: which one wins is
/// ambiguous between tools.
public struct JSONParser {
    private let bytes: [UInt8]
    private var i = 0
    static let maximumDepth = 64

    private init(_ bytes: [UInt8]) { self.bytes = bytes }

    public static func parse(_ bytes: [UInt8]) throws(JSONError) -> EventValue {
        var parser = JSONParser(bytes)
        parser.skipWhitespace()
        let value = try parser.value(depth: 0)
        parser.skipWhitespace()
        guard parser.i == bytes.count else { throw parser.fail("unexpected text after the value") }
        return value
    }

    public static func parse(_ text: String) throws(JSONError) -> EventValue { try parse(Array(text.utf8)) }

    private func fail(_ message: String) -> JSONError { JSONError(offset: i, message: message) }

    private mutating func skipWhitespace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0a || bytes[i] == 0x0d || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func value(depth: Int) throws(JSONError) -> EventValue {
        guard depth < JSONParser.maximumDepth else { throw fail("nesting deeper than \(JSONParser.maximumDepth)") }
        guard i < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try literal("true"); return .bool(true)
        case UInt8(ascii: "f"): try literal("false"); return .bool(false)
        case UInt8(ascii: "n"): try literal("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try number()
        default: throw fail("unexpected character '\(Unicode.Scalar(bytes[i]))'")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONError) {
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { throw fail("unexpected end of input") }
        for k in 0..<count where bytes[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
        i += count
    }

    private mutating func object(depth: Int) throws(JSONError) -> EventValue {
        i += 1
        var fields: [String: EventValue] = [:]
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .map(fields) }
        while true {
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key string") }
            let keyOffset = i
            let key = try string()
            skipWhitespace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipWhitespace()
            let item = try value(depth: depth + 1)
            guard fields.updateValue(item, forKey: key) == nil else {
                throw JSONError(offset: keyOffset, message: "duplicate key \"\(key)\"")
            }
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end of input in an object") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "}") { i += 1; return .map(fields) }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(JSONError) -> EventValue {
        i += 1
        var items: [EventValue] = []
        skipWhitespace()
        if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
        while true {
            skipWhitespace()
            items.append(try value(depth: depth + 1))
            skipWhitespace()
            guard i < bytes.count else { throw fail("unexpected end of input in an array") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func hex4() throws(JSONError) -> UInt32 {
        guard i + 4 <= bytes.count else { throw fail("truncated \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let c = bytes[i]
            let digit: UInt32
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(c - 48)
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(c - 87)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(c - 55)
            default: throw fail("invalid \\u escape")
            }
            value = value << 4 | digit
            i += 1
        }
        return value
    }

    private mutating func string() throws(JSONError) -> String {
        i += 1
        let start = i
        // Fast path: no escapes.
        while i < bytes.count, bytes[i] != UInt8(ascii: "\""), bytes[i] != UInt8(ascii: "\\"), bytes[i] >= 0x20 { i += 1 }
        guard i < bytes.count else { throw fail("unterminated string") }
        if bytes[i] == UInt8(ascii: "\"") {
            defer { i += 1 }
            return try validated(bytes[start..<i], at: start)
        }
        var scratch = Array(bytes[start..<i])
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == UInt8(ascii: "\"") { i += 1; break }
            if c < 0x20 { throw fail("control character in a string") }
            if c != UInt8(ascii: "\\") { scratch.append(c); i += 1; continue }
            i += 1
            guard i < bytes.count else { throw fail("unterminated escape") }
            let e = bytes[i]
            i += 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): scratch.append(e)
            case UInt8(ascii: "b"): scratch.append(0x08)
            case UInt8(ascii: "f"): scratch.append(0x0c)
            case UInt8(ascii: "n"): scratch.append(0x0a)
            case UInt8(ascii: "r"): scratch.append(0x0d)
            case UInt8(ascii: "t"): scratch.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u")
                    else { throw fail("unpaired surrogate") }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("unpaired surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw fail("invalid code point") }
                scratch.append(contentsOf: Array(String(Character(unicode)).utf8))
            default:
                throw fail("invalid escape '\\\(Unicode.Scalar(e))'")
            }
        }
        return try validated(scratch[...], at: start)
    }

    private func validated(_ slice: ArraySlice<UInt8>, at start: Int) throws(JSONError) -> String {
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw JSONError(offset: start, message: "invalid UTF-8 in a string")
        }
        return text
    }

    private mutating func number() throws(JSONError) -> EventValue {
        let start = i
        var isInteger = true
        if bytes[i] == UInt8(ascii: "-") { i += 1 }
        guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("invalid number") }
        if bytes[i] == 48, i + 1 < bytes.count, bytes[i + 1] >= 48, bytes[i + 1] <= 57 {
            throw fail("leading zero in a number")
        }
        while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            isInteger = false
            i += 1
            let digits = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > digits else { throw fail("digits expected after '.'") }
        }
        if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
            isInteger = false
            i += 1
            if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
            let digits = i
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 { i += 1 }
            guard i > digits else { throw fail("digits expected in the exponent") }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        if isInteger {
            guard let value = Int64(text) else {
                throw JSONError(offset: start, message: "integer \(text) is outside the 64-bit range")
            }
            return .int(value)
        }
        guard let value = Double(text), value.isFinite else {
            throw JSONError(offset: start, message: "number \(text) is out of range")
        }
        return .double(value)
    }
}

/// Writes compact JSON. Object keys come out in canonical (CBOR) order so output is
/// deterministic; doubles always carry a fraction or exponent so readers can tell them from
/// integers.
public struct JSONWriter {
    public private(set) var text: String = ""

    public init() {}

    public mutating func raw(_ s: String) { text += s }

    public mutating func string(_ s: String) {
        text.append("\"")
        var plainStart = s.utf8.startIndex
        var index = plainStart
        let utf8 = s.utf8
        while index != utf8.endIndex {
            let c = utf8[index]
            if c == UInt8(ascii: "\"") || c == UInt8(ascii: "\\") || c < 0x20 {
                text += String(s[plainStart..<index])
                switch c {
                case UInt8(ascii: "\""): text += "\\\""
                case UInt8(ascii: "\\"): text += "\\\\"
                case 0x0a: text += "\\n"
                case 0x0d: text += "\\r"
                case 0x09: text += "\\t"
                default:
                    let hex = String(c, radix: 16)
                    text += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                }
                plainStart = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        text += String(s[plainStart..<utf8.endIndex])
        text.append("\"")
    }

    public mutating func value(_ value: EventValue) {
        switch value {
        case .null: text += "null"
        case .bool(let b): text += b ? "true" : "false"
        case .int(let i): text += String(i)
        case .double(let d): text += JSONWriter.format(d)
        case .string(let s): string(s)
        case .bytes(let b): string(b.hexString)
        case .array(let items):
            text += "["
            for (n, item) in items.enumerated() {
                if n > 0 { text += "," }
                self.value(item)
            }
            text += "]"
        case .map(let fields):
            text += "{"
            for (n, (key, field)) in CBORWriter.canonicallyOrdered(fields).enumerated() {
                if n > 0 { text += "," }
                string(key)
                text += ":"
                self.value(field)
            }
            text += "}"
        }
    }

    static func format(_ d: Double) -> String {
        guard d.isFinite else { return "null" }
        let s = d.description
        return s.contains(".") || s.contains("e") ? s : s + ".0"
    }

    public static func encode(_ value: EventValue) -> String {
        var writer = JSONWriter()
        writer.value(value)
        return writer.text
    }
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in self {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0xf)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

extension Array where Element == UInt8 {
    /// Parses lower- or upper-case hexadecimal; nil on odd length or a non-hex character.
    public init?(hex: String) {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: return c - 48
            case 97...102: return c - 87
            case 65...70: return c - 55
            default: return nil
            }
        }
        var k = 0
        while k < chars.count {
            guard let hi = nibble(chars[k]), let lo = nibble(chars[k + 1]) else { return nil }
            out.append(hi << 4 | lo)
            k += 2
        }
        self = out
    }
}
