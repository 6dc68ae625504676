import EventStore

/// A zero-trust policy in the built-in rule language (README, "Policies"): allow and deny rules
/// over what is asked. Deny wins; nothing matching is a deny.
///
/// ```json
/// {"policy": "mesh-actions", "rules": [
///   {"id": "no-failover-in-business-hours", "effect": "deny",
///    "when": {"subject": "action", "kind": ["failover"],
///             "time": {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:00"}}},
///   {"id": "heal-services", "effect": "allow", "when": {"subject": "action", "target": "service/*"}}]}
/// ```
public struct PolicyDocument: Sendable, Hashable {
    public enum Effect: String, Sendable, Hashable { case allow, deny }

    /// A daily window in UTC on some days of the week; `from` after `to` wraps past midnight.
    public struct TimeWindow: Sendable, Hashable {
        public var days: Set<Weekday>
        /// Minutes after midnight, UTC.
        public var from: Int
        public var to: Int

        func contains(_ time: Timestamp) -> Bool {
            let (day, minute) = Weekday.of(time)
            if from <= to { return days.contains(day) && from <= minute && minute < to }
            // Wrapping: the evening part belongs to its day, the morning part to the day before.
            if minute >= from { return days.contains(day) }
            return minute < to && days.contains(day.previous)
        }
    }

    /// What a rule matches; every condition given must hold (an absent one matches anything).
    public struct Conditions: Sendable, Hashable {
        public var subject: PolicySubject?
        public var kinds: Set<String>?
        public var target: Glob?
        public var labels: [String: Glob] = [:]
        public var spiffeID: Glob?
        public var verdicts: Set<String>?
        public var operations: Set<String>?
        public var time: TimeWindow?
        /// Matches once the incident already holds at least this many actions.
        public var incidentMinActions: Int?
    }

    public struct Rule: Sendable, Hashable {
        public var id: String
        public var effect: Effect
        public var when: Conditions
    }

    public var name: String
    public var description: String
    public var rules: [Rule]
    /// The document as given, in its canonical JSON form (what is published and hashed).
    public var source: EventValue

    /// Reads a policy document, naming the JSON path and the reason of every error.
    public init(json bytes: [UInt8]) throws(DocumentErrors) {
        guard bytes.count <= PolicyDocument.maximumBytes else {
            throw DocumentErrors([DocumentError("$", "the document is larger than \(PolicyDocument.maximumBytes) bytes")])
        }
        let value: EventValue
        do { value = try JSONParser.parse(bytes) } catch { throw DocumentErrors([DocumentError("$", "not JSON: \(error)")]) }
        try self.init(value: value)
    }

    public init(value: EventValue) throws(DocumentErrors) {
        var reader = DocumentReader()
        let fields = reader.object(value, "$", required: ["policy", "rules"], optional: ["description"])
        name = reader.name(fields["policy"], "$.policy") ?? ""
        description = reader.string(fields["description"], "$.description") ?? ""
        var rules: [Rule] = []
        var ids = Set<String>()
        let items = reader.array(fields["rules"], "$.rules") ?? []
        if items.isEmpty, fields["rules"] != nil { reader.fail("$.rules", "needs at least one rule") }
        for (index, item) in items.enumerated() {
            let path = "$.rules[\(index)]"
            let rule = reader.object(item, path, required: ["id", "effect", "when"], optional: ["description"])
            let id = reader.name(rule["id"], path + ".id") ?? ""
            if !id.isEmpty, !ids.insert(id).inserted { reader.fail(path + ".id", "duplicate rule id \(id)") }
            _ = reader.string(rule["description"], path + ".description")
            let effect = reader.string(rule["effect"], path + ".effect").flatMap { text -> Effect? in
                guard let effect = Effect(rawValue: text) else { reader.fail(path + ".effect", "must be allow or deny, not \(text)"); return nil }
                return effect
            }
            let when = Self.conditions(rule["when"], path + ".when", &reader)
            if let effect { rules.append(Rule(id: id, effect: effect, when: when)) }
        }
        self.rules = rules
        source = value
        try reader.finish()
    }

    public static let maximumBytes = 1 << 20

    private static func conditions(_ value: EventValue?, _ path: String, _ reader: inout DocumentReader) -> Conditions {
        let fields = reader.object(value, path, required: [],
                                   optional: ["subject", "kind", "target", "labels", "spiffe_id", "verdict", "operation", "time", "incident"])
        var c = Conditions()
        if let text = reader.string(fields["subject"], path + ".subject") {
            c.subject = PolicySubject(rawValue: text)
            if c.subject == nil { reader.fail(path + ".subject", "must be action or peer, not \(text)") }
        }
        if let kinds = reader.strings(fields["kind"], path + ".kind") {
            for (i, kind) in kinds.enumerated() where !PolicyDocument.actionKinds.contains(kind) {
                reader.fail("\(path).kind[\(i)]", "unknown action kind \(kind) (known: \(PolicyDocument.actionKinds.sorted().joined(separator: ", ")))")
            }
            c.kinds = Set(kinds)
        }
        c.target = reader.glob(fields["target"], path + ".target")
        if let labels = fields["labels"] {
            let map = reader.object(labels, path + ".labels", required: [], optional: nil)
            for key in map.keys.sorted() { if let glob = reader.glob(map[key], "\(path).labels.\(key)") { c.labels[key] = glob } }
        }
        c.spiffeID = reader.glob(fields["spiffe_id"], path + ".spiffe_id")
        if let verdicts = reader.strings(fields["verdict"], path + ".verdict") {
            for (i, verdict) in verdicts.enumerated() where !["trusted", "untrusted", "unknown"].contains(verdict) {
                reader.fail("\(path).verdict[\(i)]", "must be trusted, untrusted or unknown, not \(verdict)")
            }
            c.verdicts = Set(verdicts)
        }
        c.operations = reader.strings(fields["operation"], path + ".operation").map(Set.init)
        if let time = fields["time"] { c.time = window(time, path + ".time", &reader) }
        if let incident = fields["incident"] {
            let inner = reader.object(incident, path + ".incident", required: ["min_actions"], optional: [])
            if let count = reader.integer(inner["min_actions"], path + ".incident.min_actions", in: 0...1_000_000) { c.incidentMinActions = count }
        }
        return c
    }

    private static func window(_ value: EventValue, _ path: String, _ reader: inout DocumentReader) -> TimeWindow? {
        let fields = reader.object(value, path, required: ["from", "to"], optional: ["days"])
        var days = Set(Weekday.allCases)
        if let names = reader.strings(fields["days"], path + ".days") {
            days = []
            for (i, name) in names.enumerated() {
                guard let day = Weekday(rawValue: name) else { reader.fail("\(path).days[\(i)]", "must be one of mon, tue, wed, thu, fri, sat, sun, not \(name)"); continue }
                days.insert(day)
            }
        }
        let from = reader.clock(fields["from"], path + ".from"), to = reader.clock(fields["to"], path + ".to")
        guard let from, let to else { return nil }
        if from == to { reader.fail(path, "from and to are the same time: an empty window") }
        return TimeWindow(days: days, from: from, to: to)
    }

    /// The action kinds a rule may name (Healing's vocabulary, EVENTS.md).
    public static let actionKinds: Set<String> = ["switch_route", "scale", "failover", "quarantine", "release"]
}

/// What a policy is asked about.
public enum PolicySubject: String, Sendable, Hashable, Codable {
    /// Whether a recovery action may run.
    case action
    /// Whether a peer may be trusted for an operation.
    case peer
}

/// Days of the week, as policies name them.
public enum Weekday: String, Sendable, Hashable, CaseIterable {
    case mon, tue, wed, thu, fri, sat, sun

    var previous: Weekday {
        switch self {
        case .mon: return .sun
        case .tue: return .mon
        case .wed: return .tue
        case .thu: return .wed
        case .fri: return .thu
        case .sat: return .fri
        case .sun: return .sat
        }
    }

    /// The UTC weekday and minute of the day of `time`.
    static func of(_ time: Timestamp) -> (Weekday, Int) {
        func floorDivide(_ a: Int64, _ b: Int64) -> Int64 { a >= 0 ? a / b : -((-a + b - 1) / b) }
        let seconds = floorDivide(time.nanoseconds, 1_000_000_000)
        let days = floorDivide(seconds, 86_400)
        let minute = Int((seconds - days * 86_400) / 60)
        // 1970-01-01 was a Thursday, the fourth of allCases.
        return (Weekday.allCases[Int((days % 7 + 7 + 3) % 7)], minute)
    }
}
