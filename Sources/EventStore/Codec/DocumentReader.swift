/// One thing wrong in a JSON document: where (a JSON path such as `$.rules[2].when.kind`) and why.
public struct DocumentError: Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var reason: String

    public init(_ path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}

/// Every error found in a document, not just the first.
public struct DocumentErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [DocumentError]

    public init(_ errors: [DocumentError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "; ") }
}

/// Reads a JSON document (a policy, a runbook) field by field, collecting an error with its path
/// for everything that is missing, unknown or of the wrong shape, so that a user fixes a document
/// in one round.
public struct DocumentReader: Sendable {
    public private(set) var errors: [DocumentError] = []

    public init() {}

    public mutating func fail(_ path: String, _ reason: String) { errors.append(DocumentError(path, reason)) }

    /// Throws the errors collected, if any.
    public func finish() throws(DocumentErrors) {
        if !errors.isEmpty { throw DocumentErrors(errors) }
    }

    /// The fields of an object, checking that `required` are present and, unless `optional` is
    /// nil (any key allowed), that no other key is.
    public mutating func object(_ value: EventValue?, _ path: String, required: [String], optional: [String]?) -> [String: EventValue] {
        guard let value else { return [:] }
        guard case .map(let fields) = value else {
            fail(path, "must be an object, not \(value.kindName)")
            return [:]
        }
        for key in required where fields[key] == nil { fail(path, "missing required field \(key)") }
        if let optional {
            let known = Set(required + optional)
            for key in fields.keys.sorted() where !known.contains(key) { fail("\(path).\(key)", "unknown field") }
        }
        return fields
    }

    public mutating func array(_ value: EventValue?, _ path: String) -> [EventValue]? {
        guard let value else { return nil }
        guard case .array(let items) = value else {
            fail(path, "must be an array, not \(value.kindName)")
            return nil
        }
        return items
    }

    public mutating func string(_ value: EventValue?, _ path: String) -> String? {
        guard let value else { return nil }
        guard case .string(let text) = value else {
            fail(path, "must be a string, not \(value.kindName)")
            return nil
        }
        return text
    }

    /// A non-empty name of letters, digits and `-_.:/`, at most 128 characters.
    public mutating func name(_ value: EventValue?, _ path: String) -> String? {
        guard let text = string(value, path) else { return nil }
        let allowed = text.unicodeScalars.allSatisfy { ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) || "-_.:/".unicodeScalars.contains($0) }
        guard !text.isEmpty, text.count <= 128, allowed else {
            fail(path, "must be 1 to 128 letters, digits or -_.:/")
            return nil
        }
        return text
    }

    public mutating func strings(_ value: EventValue?, _ path: String) -> [String]? {
        guard let items = array(value, path) else { return nil }
        if items.isEmpty { fail(path, "must not be empty") }
        var out: [String] = []
        for (index, item) in items.enumerated() { if let text = string(item, "\(path)[\(index)]") { out.append(text) } }
        return out
    }

    public mutating func integer(_ value: EventValue?, _ path: String, in range: ClosedRange<Int>) -> Int? {
        guard let value else { return nil }
        guard case .int(let number) = value else {
            fail(path, "must be an integer, not \(value.kindName)")
            return nil
        }
        guard number >= Int64(range.lowerBound), number <= Int64(range.upperBound) else {
            fail(path, "must be between \(range.lowerBound) and \(range.upperBound), not \(number)")
            return nil
        }
        return Int(number)
    }

    public mutating func number(_ value: EventValue?, _ path: String) -> Double? {
        guard let value else { return nil }
        switch value {
        case .int(let number): return Double(number)
        case .double(let number) where number.isFinite: return number
        default:
            fail(path, "must be a finite number, not \(value.kindName)")
            return nil
        }
    }

    public mutating func bool(_ value: EventValue?, _ path: String) -> Bool? {
        guard let value else { return nil }
        guard case .bool(let flag) = value else {
            fail(path, "must be true or false, not \(value.kindName)")
            return nil
        }
        return flag
    }

    /// `HH:MM` as minutes after midnight.
    public mutating func clock(_ value: EventValue?, _ path: String) -> Int? {
        guard let text = string(value, path) else { return nil }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 }), let hours = Int(parts[0]), let minutes = Int(parts[1]),
              (0..<24).contains(hours), (0..<60).contains(minutes) else {
            fail(path, "must be a time of day HH:MM (00:00 to 23:59), not \(text)")
            return nil
        }
        return hours * 60 + minutes
    }
}
