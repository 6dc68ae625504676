/// Encodes `Encodable` Swift values as `EventValue` trees, and so (through `CBORWriter`) as the
/// log's deterministic CBOR. Domain payloads and projection states use it: the same value always
/// gives the same bytes, because maps are written in canonical key order and optionals that are
/// nil are left out.
///
/// Integers must fit in Int64; non-finite floating-point numbers are refused.
public struct EventValueEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> EventValue {
        try ValueEncoding.encodeNested(value, codingPath: [])
    }

    /// The deterministic CBOR bytes of `value`.
    public func encodeCBOR<T: Encodable>(_ value: T) throws -> [UInt8] {
        CBORWriter.encode(try encode(value))
    }
}

/// A container's contents while encoding; containers share it by reference, as `Encoder`
/// requires, and it is turned into an `EventValue` when the value is done.
private final class Slot {
    enum Content { case empty, value(EventValue), map([String: Slot]), array([Slot]) }
    var content = Content.empty

    var finished: EventValue {
        switch content {
        case .empty: return .map([:])
        case .value(let value): return value
        case .map(let fields): return .map(fields.mapValues(\.finished))
        case .array(let items): return .array(items.map(\.finished))
        }
    }
}

private final class ValueEncoding: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    let root = Slot()

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

    static func encodeNested<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> EventValue {
        if let primitive = try primitive(value, codingPath: codingPath) { return primitive }
        let encoder = ValueEncoding(codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.root.finished
    }

    /// Values with a direct `EventValue` form (which would otherwise go through their own,
    /// slower or lossy, `Encodable` conformance).
    static func primitive<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> EventValue? {
        switch value {
        case let v as EventValue: return v
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as Int: return .int(Int64(v))
        case let v as Int64: return .int(v)
        case let v as Int32: return .int(Int64(v))
        case let v as Int16: return .int(Int64(v))
        case let v as Int8: return .int(Int64(v))
        case let v as UInt32: return .int(Int64(v))
        case let v as UInt16: return .int(Int64(v))
        case let v as UInt8: return .int(Int64(v))
        case let v as UInt64:
            guard v <= UInt64(Int64.max) else { throw outOfRange(v, codingPath) }
            return .int(Int64(v))
        case let v as UInt:
            guard v <= UInt(Int64.max) else { throw outOfRange(v, codingPath) }
            return .int(Int64(v))
        case let v as Double:
            guard v.isFinite else { throw outOfRange(v, codingPath) }
            return .double(v)
        case let v as Float:
            guard v.isFinite else { throw outOfRange(v, codingPath) }
            return .double(Double(v))
        // Checked by type: a dynamic cast would also turn an empty array of anything into bytes.
        case let v as [UInt8] where T.self == [UInt8].self: return .bytes(v)
        // Counters and labels by name are the commonest state: encoded without a container each.
        case let v as [String: Int] where T.self == [String: Int].self: return .map(v.mapValues { .int(Int64($0)) })
        case let v as [String: String] where T.self == [String: String].self: return .map(v.mapValues { .string($0) })
        default: return nil
        }
    }

    static func outOfRange(_ value: Any, _ codingPath: [any CodingKey]) -> EncodingError {
        EncodingError.invalidValue(value, .init(codingPath: codingPath, debugDescription: "\(value) has no exact form in the log's encoding"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .map = root.content {} else { root.content = .map([:]) }
        return KeyedEncodingContainer(KeyedSlotContainer<Key>(slot: root, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array = root.content {} else { root.content = .array([]) }
        return UnkeyedSlotContainer(slot: root, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleSlotContainer(slot: root, codingPath: codingPath)
    }
}

private struct KeyedSlotContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let slot: Slot
    let codingPath: [any CodingKey]

    private func set(_ key: Key, _ child: Slot) {
        guard case .map(var fields) = slot.content else { return }
        slot.content = .empty  // keep `fields` uniquely referenced while it changes
        fields[key.stringValue] = child
        slot.content = .map(fields)
    }

    private func set(_ key: Key, _ value: EventValue) {
        let child = Slot()
        child.content = .value(value)
        set(key, child)
    }

    mutating func encodeNil(forKey key: Key) throws { set(key, .null) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(key, try ValueEncoding.encodeNested(value, codingPath: codingPath + [key]))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = Slot()
        child.content = .map([:])
        set(key, child)
        return KeyedEncodingContainer(KeyedSlotContainer<NestedKey>(slot: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = Slot()
        child.content = .array([])
        set(key, child)
        return UnkeyedSlotContainer(slot: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder {
        guard let key = Key(stringValue: "super") ?? Key(intValue: 0) else { return ValueEncoding(codingPath: codingPath) }
        return superEncoder(forKey: key)
    }
    mutating func superEncoder(forKey key: Key) -> any Encoder {
        let encoder = ValueEncoding(codingPath: codingPath + [key])
        set(key, encoder.root)
        return encoder
    }
}

private struct UnkeyedSlotContainer: UnkeyedEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]
    var count: Int {
        if case .array(let items) = slot.content { return items.count }
        return 0
    }

    private func append(_ child: Slot) {
        guard case .array(var items) = slot.content else { return }
        slot.content = .empty
        items.append(child)
        slot.content = .array(items)
    }

    private var nextKey: IndexKey { IndexKey(intValue: count) }

    mutating func encodeNil() throws {
        let child = Slot()
        child.content = .value(.null)
        append(child)
    }

    mutating func encode<T: Encodable>(_ value: T) throws {
        let child = Slot()
        child.content = .value(try ValueEncoding.encodeNested(value, codingPath: codingPath + [nextKey]))
        append(child)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let child = Slot()
        child.content = .map([:])
        let path = codingPath + [nextKey]
        append(child)
        return KeyedEncodingContainer(KeyedSlotContainer<NestedKey>(slot: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let child = Slot()
        child.content = .array([])
        let path = codingPath + [nextKey]
        append(child)
        return UnkeyedSlotContainer(slot: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = ValueEncoding(codingPath: codingPath + [nextKey])
        append(encoder.root)
        return encoder
    }
}

private struct SingleSlotContainer: SingleValueEncodingContainer {
    let slot: Slot
    let codingPath: [any CodingKey]

    mutating func encodeNil() throws { slot.content = .value(.null) }
    mutating func encode<T: Encodable>(_ value: T) throws {
        slot.content = .value(try ValueEncoding.encodeNested(value, codingPath: codingPath))
    }
}

/// A position in an array or a map key, as a coding key (for coding paths in error messages).
struct IndexKey: CodingKey {
    let intValue: Int?
    let name: String?
    var stringValue: String { name ?? intValue.map(String.init) ?? "" }
    init(intValue: Int) {
        self.intValue = intValue
        name = nil
    }
    init(stringKey: String) {
        intValue = nil
        name = stringKey
    }
    init?(stringValue: String) {
        guard let value = Int(stringValue) else { return nil }
        intValue = value
        name = nil
    }
}
