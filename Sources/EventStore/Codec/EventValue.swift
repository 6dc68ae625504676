/// A self-describing value: an event's payload, a tag, a projection's state. It is what the log
/// stores (as deterministic CBOR) and what the edges speak (as JSON), so any tool can render any
/// event without knowing its Swift type.
public enum EventValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int64)
    /// A finite floating-point number; NaN and infinities are refused at the boundary.
    case double(Double)
    case string(String)
    case bytes([UInt8])
    case array([EventValue])
    case map([String: EventValue])

    public subscript(key: String) -> EventValue? {
        if case .map(let fields) = self { return fields[key] }
        return nil
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var intValue: Int64? {
        if case .int(let i) = self { return i }
        return nil
    }

    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }

    public var arrayValue: [EventValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    public var mapValue: [String: EventValue]? {
        if case .map(let m) = self { return m }
        return nil
    }

    /// The JSON type name, for error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .bytes: return "bytes"
        case .array: return "array"
        case .map: return "object"
        }
    }

    /// The deepest level a value in the log may lie at; arrays and maps must lie above it. The
    /// CBOR and JSON readers refuse deeper input (a hostile payload must not exhaust the
    /// stack), so appends refuse it too rather than write what could not be read back. Counted
    /// as the readers do: the payload itself is level 0.
    public static let maximumNestingLevel = 63

    /// Throws when the value holds something the log refuses (a non-finite number, nesting
    /// deeper than `maximumNestingLevel`).
    func validate(path: String) throws(ValueError) {
        // The path is built only for a refused value: valid payloads, the common case, cost
        // one walk and no string building.
        guard let (steps, message) = firstRefused() else { return }
        var full = path
        for step in steps.reversed() {
            switch step {
            case .index(let i): full += "[\(i)]"
            case .key(let k): full += full.isEmpty ? k : ".\(k)"
            }
        }
        throw ValueError(path: full, message: message)
    }

    private enum PathStep { case index(Int), key(String) }

    /// The steps (innermost first) to the first part the log refuses, and why.
    private func firstRefused(level: Int = 0) -> ([PathStep], String)? {
        switch self {
        case .double(let d) where !d.isFinite:
            return ([], "non-finite number")
        case .array where level >= EventValue.maximumNestingLevel, .map where level >= EventValue.maximumNestingLevel:
            // Its items would lie past the deepest level the readers accept.
            return ([], "nested deeper than \(EventValue.maximumNestingLevel) levels")
        case .array(let items):
            for (i, item) in items.enumerated() {
                if let (steps, message) = item.firstRefused(level: level + 1) { return (steps + [.index(i)], message) }
            }
        case .map(let fields):
            for (k, v) in fields {
                if let (steps, message) = v.firstRefused(level: level + 1) { return (steps + [.key(k)], message) }
            }
        default:
            break
        }
        return nil
    }
}

extension EventValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: EventValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, EventValue)...) {
        self = .map(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

/// A value that the log cannot hold, with the path of the offending field.
public struct ValueError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var message: String
    public var description: String { path.isEmpty ? message : "\(path): \(message)" }
}
