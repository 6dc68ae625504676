/// A payload that does not fit its event type: a missing field, a wrong type, a number out of
/// range. `field` is the path from the envelope (`data.window_s`).
public struct PayloadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var message: String

    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field): \(message)" }
}

/// The one place a domain reads its payloads: typed fields out of an event's `data`, each
/// checked for presence, type and range, with the field's path in every error. Domain payload
/// types decode through it, so no projection or rule reads an unchecked value from the log.
///
/// ```swift
/// let data = try PayloadReader(event.data)
/// let window = try data.int("window_s", in: 1...31_536_000)
/// ```
public struct PayloadReader {
    public let fields: [String: EventValue]
    let path: String

    /// Reads `data`, which must be an object; `path` prefixes every field in errors.
    public init(_ data: EventValue, path: String = "data") throws(PayloadError) {
        guard case .map(let fields) = data else {
            throw PayloadError(field: path, message: "must be an object, not \(data.kindName)")
        }
        self.fields = fields
        self.path = path
    }

    /// The object read, whole.
    public var document: EventValue { .map(fields) }

    func fail(_ key: String, _ message: String) -> PayloadError { PayloadError(field: "\(path).\(key)", message: message) }

    /// A required, non-empty string.
    public func string(_ key: String) throws(PayloadError) -> String {
        guard let value = try optionalString(key) else { throw fail(key, "is required (a non-empty string)") }
        return value
    }

    /// A string when present; an empty string or another type is an error.
    public func optionalString(_ key: String) throws(PayloadError) -> String? {
        guard let value = present(key) else { return nil }
        guard case .string(let text) = value else { throw fail(key, "must be a string, not \(value.kindName)") }
        guard !text.isEmpty else { throw fail(key, "must not be empty") }
        return text
    }

    /// Required free text (a reason, an error message): any string, empty included.
    public func text(_ key: String) throws(PayloadError) -> String {
        guard let value = present(key) else { throw fail(key, "is required (a string)") }
        guard case .string(let text) = value else { throw fail(key, "must be a string, not \(value.kindName)") }
        return text
    }

    /// Free text when present.
    public func optionalText(_ key: String) throws(PayloadError) -> String? {
        guard present(key) != nil else { return nil }
        return try text(key)
    }

    /// A required integer within `range`.
    public func int(_ key: String, in range: ClosedRange<Int64>) throws(PayloadError) -> Int {
        guard let value = try optionalInt(key, in: range) else {
            throw fail(key, "is required (an integer from \(range.lowerBound) to \(range.upperBound))")
        }
        return value
    }

    /// An integer within `range` when present. A float with no fraction is taken as the
    /// integer it is (JSON writers differ in how they print them).
    public func optionalInt(_ key: String, in range: ClosedRange<Int64>) throws(PayloadError) -> Int? {
        guard let value = present(key) else { return nil }
        let number: Int64
        switch value {
        case .int(let i): number = i
        case .double(let d) where d.rounded() == d && d >= -9.2e18 && d <= 9.2e18: number = Int64(d)
        default: throw fail(key, "must be an integer, not \(value.kindName == "number" ? "a fraction" : value.kindName)")
        }
        guard range.contains(number) else {
            throw fail(key, "\(number) is out of range (\(range.lowerBound) to \(range.upperBound))")
        }
        return Int(truncatingIfNeeded: number)
    }

    /// A required finite number (integer or not).
    public func number(_ key: String) throws(PayloadError) -> Double {
        guard let value = try optionalNumber(key) else { throw fail(key, "is required (a number)") }
        return value
    }

    public func optionalNumber(_ key: String) throws(PayloadError) -> Double? {
        guard let value = present(key) else { return nil }
        guard let number = value.doubleValue, number.isFinite else { throw fail(key, "must be a number, not \(value.kindName)") }
        return number
    }

    public func bool(_ key: String) throws(PayloadError) -> Bool {
        guard let value = present(key) else { throw fail(key, "is required (true or false)") }
        guard case .bool(let flag) = value else { throw fail(key, "must be true or false, not \(value.kindName)") }
        return flag
    }

    /// A required object, read by a reader of its own.
    public func object(_ key: String) throws(PayloadError) -> PayloadReader {
        guard let value = present(key) else { throw fail(key, "is required (an object)") }
        return try PayloadReader(value, path: "\(path).\(key)")
    }

    public func optionalObject(_ key: String) throws(PayloadError) -> PayloadReader? {
        guard let value = present(key) else { return nil }
        return try PayloadReader(value, path: "\(path).\(key)")
    }

    /// A value of any type, unchecked (for parts kept as they are, like an action's params).
    public func value(_ key: String) -> EventValue? { present(key) }

    /// The array under `key` when present, each element given to `element` with its path.
    public func optionalArray<T>(_ key: String, _ element: (EventValue, String) throws(PayloadError) -> T) throws(PayloadError) -> [T]? {
        guard let value = present(key) else { return nil }
        guard case .array(let items) = value else { throw fail(key, "must be an array, not \(value.kindName)") }
        var out: [T] = []
        out.reserveCapacity(items.count)
        for (index, item) in items.enumerated() { out.append(try element(item, "\(path).\(key)[\(index)]")) }
        return out
    }

    /// An explicit `null` counts as absent.
    private func present(_ key: String) -> EventValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }
}

/// The event types a domain knows, and how to check their payloads. A store opened with
/// vocabularies (`StoreOptions.vocabularies`) refuses an append or import holding a malformed
/// event of a known type, naming the event and the field, and writes nothing of the batch.
/// Types no vocabulary knows pass unchecked: the log is open to new kinds of events.
public protocol EventVocabulary: Sendable {
    /// Throws when `data` is not a valid payload of `type`; returns for unknown types.
    func validate(type: String, data: EventValue) throws(PayloadError)
}
