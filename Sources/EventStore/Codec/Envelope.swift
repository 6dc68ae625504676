/// The JSON envelope of EVENTS.md: one object per line in every export, import and query result.
public enum Envelope {
    /// The top-level fields an envelope may carry; anything else is an import error.
    public static let fields: Set<String> = ["seq", "id", "time", "hlc", "node", "stream", "version", "type", "tags",
                                             "data", "causation", "correlation", "prev", "hash"]

    /// The event as one JSON object, fields in the documented order.
    public static func json(_ e: Event) -> String {
        var w = JSONWriter()
        w.raw("{\"seq\":\(e.seq),\"id\":")
        w.string(e.id)
        w.raw(",\"time\":\"\(e.time.rfc3339)\",\"hlc\":{\"wall\":\(e.hlc.wall),\"logical\":\(e.hlc.logical)},\"node\":")
        w.string(e.node)
        w.raw(",\"stream\":")
        w.string(e.stream)
        w.raw(",\"version\":\(e.version),\"type\":")
        w.string(e.type)
        w.raw(",\"tags\":")
        w.value(.map(e.tags.mapValues { .string($0) }))
        w.raw(",\"data\":")
        w.value(e.data)
        if let c = e.causation { w.raw(",\"causation\":"); w.string(c) }
        if let c = e.correlation { w.raw(",\"correlation\":"); w.string(c) }
        w.raw(",\"prev\":\"\(e.prev.hex)\",\"hash\":\"\(e.hash.hex)\"}")
        return w.text
    }

    /// Reads an envelope for import, under EVENTS.md's rules: `type`, `stream` and `data` are
    /// required; `id`, `time`, `hlc`, `node`, `tags`, `causation`, `correlation` are kept when
    /// present; `seq`, `version`, `prev`, `hash` are ignored (the importing store assigns them);
    /// any other field is an error.
    public static func newEvent(from value: EventValue) throws(EnvelopeError) -> NewEvent {
        guard case .map(let fields) = value else { throw EnvelopeError(field: nil, message: "a line must be a JSON object, not \(value.kindName)") }
        for key in fields.keys.sorted() where !Envelope.fields.contains(key) {
            throw EnvelopeError(field: key, message: "unknown field")
        }
        func string(_ name: String, required: Bool = false) throws(EnvelopeError) -> String? {
            switch fields[name] {
            case nil, .some(.null):
                if required { throw EnvelopeError(field: name, message: "missing") }
                return nil
            case .some(.string(let s)): return s
            case .some(let other): throw EnvelopeError(field: name, message: "must be a string, not \(other.kindName)")
            }
        }
        guard let type = try string("type", required: true), let stream = try string("stream", required: true) else {
            throw EnvelopeError(field: "type", message: "missing")
        }
        guard let data = fields["data"] else { throw EnvelopeError(field: "data", message: "missing") }
        guard case .map = data else { throw EnvelopeError(field: "data", message: "must be an object, not \(data.kindName)") }
        var event = NewEvent(type: type, stream: stream, data: data)
        event.id = try string("id")
        event.node = try string("node")
        event.causation = try string("causation")
        event.correlation = try string("correlation")
        if let text = try string("time") {
            guard let time = Timestamp(rfc3339: text) else { throw EnvelopeError(field: "time", message: "not an RFC 3339 time: \(text)") }
            event.time = time
        }
        switch fields["hlc"] {
        case nil, .some(.null): break
        case .some(.map(let hlc)):
            guard case .int(let wall) = hlc["wall"] ?? .null, wall >= 0 else {
                throw EnvelopeError(field: "hlc.wall", message: "must be a non-negative integer")
            }
            guard case .int(let logical) = hlc["logical"] ?? .null, logical >= 0, logical <= Int64(UInt32.max) else {
                throw EnvelopeError(field: "hlc.logical", message: "must be an integer from 0 to \(UInt32.max)")
            }
            guard hlc.count == 2 else { throw EnvelopeError(field: "hlc", message: "has fields other than wall and logical") }
            event.hlc = HLC(wall: wall, logical: UInt32(logical))
        case .some(let other): throw EnvelopeError(field: "hlc", message: "must be an object, not \(other.kindName)")
        }
        switch fields["tags"] {
        case nil, .some(.null): break
        case .some(.map(let tags)):
            for (k, v) in tags {
                guard case .string(let s) = v else { throw EnvelopeError(field: "tags.\(k)", message: "must be a string, not \(v.kindName)") }
                event.tags[k] = s
            }
        case .some(let other): throw EnvelopeError(field: "tags", message: "must be an object, not \(other.kindName)")
        }
        for name in ["seq", "version"] {
            if let v = fields[name], v != .null, v.intValue == nil {
                throw EnvelopeError(field: name, message: "must be an integer, not \(v.kindName)")
            }
        }
        do { try event.validate() } catch { throw EnvelopeError(field: error.field, message: error.message) }
        return event
    }
}

/// An envelope that cannot be imported, naming the field.
public struct EnvelopeError: Error, Sendable, CustomStringConvertible {
    public var field: String?
    public var message: String
    public var description: String { field.map { "field \($0): \(message)" } ?? message }
}
