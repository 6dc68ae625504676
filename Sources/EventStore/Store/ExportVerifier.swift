/// Checks an exported slice of the log offline, with no store: each line (a JSON envelope as
/// `query --format jsonl` writes it) is read back into its event, its hash recomputed from the
/// event's canonical bytes and `prev` checked against the line before, so an edited field and a
/// removed, reordered or inserted line are found and the line named. Lines are fed one at a
/// time: a slice of any size is checked in constant memory.
public struct ExportVerifier: Sendable {
    public struct Problem: Sendable, Hashable, CustomStringConvertible {
        /// 1-based line number.
        public var line: Int
        public var message: String
        public var description: String { "line \(line): \(message)" }
    }

    /// Filtered exports (`query --type ...`) skip positions: then each line's own hash and the
    /// ascending order are checked, not `prev` against the line before.
    public let allowGaps: Bool
    public private(set) var lines = 0
    public private(set) var firstSeq: UInt64?
    /// The last line's seq and hash: the head of the slice.
    public private(set) var head: Anchor?
    public private(set) var problems: [Problem] = []
    public var ok: Bool { problems.isEmpty && lines > 0 }

    public init(allowGaps: Bool = false) { self.allowGaps = allowGaps }

    /// Checks the next line (empty lines are skipped).
    public mutating func check(line bytes: [UInt8]) {
        guard bytes.contains(where: { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D }) else { return }
        lines += 1
        let number = lines
        let event: Event
        do {
            event = try Envelope.event(from: try JSONParser.parse(bytes))
        } catch {
            problems.append(Problem(line: number, message: "not an exported event: \(error)"))
            head = nil
            return
        }
        let recomputed: Digest
        do { recomputed = try Digest.chained(prev: event.prev, canonical: Record.canonicalBytes(of: event)) } catch {
            problems.append(Problem(line: number, message: "cannot hash: \(error)"))
            return
        }
        if recomputed != event.hash {
            problems.append(Problem(line: number, message: "seq \(event.seq): the hash does not match the event's content (edited)"))
        }
        if let previous = head {
            if event.seq <= previous.seq {
                problems.append(Problem(line: number, message: "seq \(event.seq) after seq \(previous.seq): lines out of order"))
            } else if event.seq == previous.seq + 1 {
                if event.prev != previous.hash { problems.append(Problem(line: number, message: "seq \(event.seq): prev is not the hash of the line before (a line was replaced or inserted)")) }
            } else if !allowGaps {
                problems.append(Problem(line: number, message: "seq \(event.seq) follows seq \(previous.seq): \(event.seq - previous.seq - 1) line(s) missing"))
            }
        }
        if firstSeq == nil { firstSeq = event.seq }
        head = Anchor(seq: event.seq, hash: event.hash)
    }
}

extension Digest {
    /// SHA-256(prev ‖ canonical): a record's hash in the chain.
    static func chained(prev: Digest, canonical: [UInt8]) throws(StoreError) -> Digest {
        try Digest.sha256(prev.bytes + canonical)
    }
}

extension Envelope {
    /// Reads an exported envelope back into the complete event it was written from: every
    /// field, `seq`, `version`, `prev` and `hash` included.
    public static func event(from value: EventValue) throws(EnvelopeError) -> Event {
        let new = try newEvent(from: value)
        func integer(_ name: String) throws(EnvelopeError) -> UInt64 {
            guard case .int(let n)? = value[name], n >= 0 else { throw EnvelopeError(field: name, message: "missing, or not a non-negative integer") }
            return UInt64(n)
        }
        func digest(_ name: String) throws(EnvelopeError) -> Digest {
            guard case .string(let hex)? = value[name], let digest = Digest(hex: hex) else { throw EnvelopeError(field: name, message: "missing, or not 64 hex digits") }
            return digest
        }
        guard let id = new.id, let time = new.time, let hlc = new.hlc, let node = new.node else {
            throw EnvelopeError(field: nil, message: "an exported event carries id, time, hlc and node")
        }
        return Event(seq: try integer("seq"), id: id, time: time, hlc: hlc, node: node, stream: new.stream, version: try integer("version"),
                     type: new.type, tags: new.tags, data: new.data, causation: new.causation, correlation: new.correlation,
                     prev: try digest("prev"), hash: try digest("hash"))
    }
}
