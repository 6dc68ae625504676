/// Decodes `Decodable` Swift values from `EventValue` trees (and so from the log's CBOR).
/// Unknown map keys are ignored, so adding a field to an event type is free (ARCHITECTURE.md,
/// evolving event types); a missing or mistyped field is a `DecodingError` naming its path.
public struct EventValueDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from value: EventValue) throws -> T {
        try ValueDecoding(value: value, codingPath: []).decodeValue(type)
    }

    /// Decodes CBOR bytes (for example a stored snapshot); malformed bytes are a `CBORError`.
    public func decode<T: Decodable>(_ type: T.Type, fromCBOR bytes: [UInt8]) throws -> T {
        let value = try bytes.withUnsafeBytes { raw throws(CBORError) -> EventValue in
            var reader = CBORReader(raw)
            let value = try reader.readValue()
            guard reader.isAtEnd else { throw reader.fail("trailing bytes") }
            return value
        }
        return try decode(type, from: value)
    }
}

private struct ValueDecoding: Decoder {
    let value: EventValue
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        .typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "expected \(expected), found \(value.kindName)"))
    }

    func decodeValue<T: Decodable>(_ type: T.Type) throws -> T {
        if let primitive = try primitive(type) { return primitive }
        return try T(from: self)
    }

    /// The counterpart of `ValueEncoding.primitive`.
    private func primitive<T>(_ type: T.Type) throws -> T? {
        func integer<I: FixedWidthInteger>(_: I.Type) throws -> I {
            guard case .int(let i) = value else { throw mismatch("an integer") }
            guard let exact = I(exactly: i) else {
                throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(i) does not fit in \(I.self)"))
            }
            return exact
        }
        switch type {
        case is EventValue.Type: return value as? T
        case is String.Type:
            guard case .string(let s) = value else { throw mismatch("a string") }
            return s as? T
        case is Bool.Type:
            guard case .bool(let b) = value else { throw mismatch("a boolean") }
            return b as? T
        case is Int.Type: return try integer(Int.self) as? T
        case is Int64.Type: return try integer(Int64.self) as? T
        case is Int32.Type: return try integer(Int32.self) as? T
        case is Int16.Type: return try integer(Int16.self) as? T
        case is Int8.Type: return try integer(Int8.self) as? T
        case is UInt.Type: return try integer(UInt.self) as? T
        case is UInt64.Type: return try integer(UInt64.self) as? T
        case is UInt32.Type: return try integer(UInt32.self) as? T
        case is UInt16.Type: return try integer(UInt16.self) as? T
        case is UInt8.Type: return try integer(UInt8.self) as? T
        case is Double.Type:
            guard let d = value.doubleValue else { throw mismatch("a number") }
            return d as? T
        case is Float.Type:
            guard let d = value.doubleValue else { throw mismatch("a number") }
            return Float(d) as? T
        case is [UInt8].Type:
            guard case .bytes(let b) = value else { return nil }
            return b as? T
        case is [String: Int].Type:
            return try nameKeyedMap("an integer") { if case .int(let i) = $0 { return Int(exactly: i) } else { return nil } } as? T
        case is [String: String].Type:
            return try nameKeyedMap("a string") { $0.stringValue } as? T
        default: return nil
        }
    }

    /// A map of names to plain values, decoded without a container per entry (the commonest
    /// shape in projection states).
    private func nameKeyedMap<V>(_ expected: String, _ extract: (EventValue) -> V?) throws -> [String: V] {
        guard case .map(let fields) = value else { throw mismatch("an object") }
        var out: [String: V] = [:]
        out.reserveCapacity(fields.count)
        for (key, item) in fields {
            guard let element = extract(item) else {
                throw DecodingError.typeMismatch(V.self, .init(codingPath: codingPath + [IndexKey(stringKey: key)], debugDescription: "expected \(expected), found \(item.kindName)"))
            }
            out[key] = element
        }
        return out
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .map(let fields) = value else { throw mismatch("an object") }
        return KeyedDecodingContainer(KeyedValueContainer<Key>(fields: fields, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch("an array") }
        return UnkeyedValueContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleValueContainer(decoder: self)
    }
}

private struct KeyedValueContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let fields: [String: EventValue]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { fields.keys.compactMap { Key(stringValue: $0) } }
    func contains(_ key: Key) -> Bool { fields[key.stringValue] != nil }

    private func child(_ key: Key) throws -> ValueDecoding {
        guard let value = fields[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing field \(key.stringValue)"))
        }
        return ValueDecoding(value: value, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { fields[key.stringValue] == nil || fields[key.stringValue] == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try child(key).decodeValue(type) }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
    func superDecoder() throws -> any Decoder { ValueDecoding(value: .map(fields), codingPath: codingPath) }
    func superDecoder(forKey key: Key) throws -> any Decoder { try child(key) }
}

private struct UnkeyedValueContainer: UnkeyedDecodingContainer {
    let items: [EventValue]
    let codingPath: [any CodingKey]
    var currentIndex = 0
    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    init(items: [EventValue], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    private mutating func next() throws -> ValueDecoding {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath, debugDescription: "the array has only \(items.count) elements"))
        }
        defer { currentIndex += 1 }
        return ValueDecoding(value: items[currentIndex], codingPath: codingPath + [IndexKey(intValue: currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeValue(type) }
    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next().container(keyedBy: type)
    }
    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer { try next().unkeyedContainer() }
    mutating func superDecoder() throws -> any Decoder { try next() }
}

private struct SingleValueContainer: SingleValueDecodingContainer {
    let decoder: ValueDecoding
    var codingPath: [any CodingKey] { decoder.codingPath }
    func decodeNil() -> Bool { decoder.value == .null }
    func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeValue(type) }
}

/// EventValue is Codable so that domain types can hold free-form parts (an action's params, a
/// symptom's labels); through `EventValueEncoder` it is copied as is.
extension EventValue: Codable {
    private struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .map(let fields):
            var container = encoder.container(keyedBy: AnyKey.self)
            for (key, value) in fields { try container.encode(value, forKey: AnyKey(stringValue: key)) }
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        default:
            var container = encoder.singleValueContainer()
            switch self {
            case .null: try container.encodeNil()
            case .bool(let b): try container.encode(b)
            case .int(let i): try container.encode(i)
            case .double(let d): try container.encode(d)
            case .string(let s): try container.encode(s)
            case .bytes(let b): try container.encode(b)
            case .map, .array: break
            }
        }
    }

    public init(from decoder: any Decoder) throws {
        if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
            var fields: [String: EventValue] = [:]
            for key in keyed.allKeys { fields[key.stringValue] = try keyed.decode(EventValue.self, forKey: key) }
            self = .map(fields)
        } else if var unkeyed = try? decoder.unkeyedContainer() {
            var items: [EventValue] = []
            while !unkeyed.isAtEnd { items.append(try unkeyed.decode(EventValue.self)) }
            self = .array(items)
        } else {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { self = .null }
            else if let b = try? single.decode(Bool.self) { self = .bool(b) }
            else if let i = try? single.decode(Int64.self) { self = .int(i) }
            else if let d = try? single.decode(Double.self) { self = .double(d) }
            else { self = .string(try single.decode(String.self)) }
        }
    }
}
