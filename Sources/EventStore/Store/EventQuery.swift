/// What to read. Every condition given must hold (they are ANDed); ranges follow EVENTS.md:
/// `since ≤ time < until`, `fromSeq ≤ seq ≤ toSeq`.
///
/// Results come in log order (`seq`), newest first with `reverse`. A query whose only conditions
/// are a time range is answered from the time index and comes in time order (then seq), which is
/// the same order unless events were imported out of time order.
public struct EventQuery: Sendable, Hashable {
    public var stream: String?
    /// With `stream`: only versions from this one on.
    public var fromVersion: UInt64?
    public var type: String?
    public var node: String?
    public var correlation: String?
    /// `key=value` tags the appender set; all must match.
    public var tags: [String: String]
    public var since: Timestamp?
    public var until: Timestamp?
    public var fromSeq: UInt64?
    public var toSeq: UInt64?
    public var limit: Int?
    public var reverse: Bool

    public init(stream: String? = nil, fromVersion: UInt64? = nil, type: String? = nil, node: String? = nil,
                correlation: String? = nil, tags: [String: String] = [:], since: Timestamp? = nil,
                until: Timestamp? = nil, fromSeq: UInt64? = nil, toSeq: UInt64? = nil, limit: Int? = nil,
                reverse: Bool = false) {
        self.stream = stream
        self.fromVersion = fromVersion
        self.type = type
        self.node = node
        self.correlation = correlation
        self.tags = tags
        self.since = since
        self.until = until
        self.fromSeq = fromSeq
        self.toSeq = toSeq
        self.limit = limit
        self.reverse = reverse
    }

    /// The residual check every candidate passes, whichever index found it.
    func matches(_ e: Event) -> Bool {
        if let stream, e.stream != stream { return false }
        if let fromVersion, e.version < fromVersion { return false }
        if let type, e.type != type { return false }
        if let node, e.node != node { return false }
        if let correlation, e.correlation != correlation { return false }
        for (k, v) in tags where e.tags[k] != v { return false }
        if let since, e.time < since { return false }
        if let until, e.time >= until { return false }
        if let fromSeq, e.seq < fromSeq { return false }
        if let toSeq, e.seq > toSeq { return false }
        return true
    }

    /// The part of `matches` that a record's envelope, read in place, can decide: a record
    /// that fails it is passed over without decoding its payload, tags or links.
    func mayMatch(_ v: RecordView) -> Bool {
        if let stream, !v.stream.matches(stream) { return false }
        if let fromVersion, v.version < fromVersion { return false }
        if let type, !v.type.matches(type) { return false }
        if let node, !v.node.matches(node) { return false }
        if let since, v.time < since { return false }
        if let until, v.time >= until { return false }
        if let fromSeq, v.seq < fromSeq { return false }
        if let toSeq, v.seq > toSeq { return false }
        return true
    }

    /// Equality conditions that an index can drive: (database, key, is the streams index).
    func indexCandidates(_ dbs: Databases) -> [(dbi: UInt32, key: [UInt8], isStream: Bool)] {
        var out: [(UInt32, [UInt8], Bool)] = []
        if let stream { out.append((dbs.streams, Key.text(stream), true)) }
        if let type { out.append((dbs.types, Key.text(type), false)) }
        if let node { out.append((dbs.tags, IndexBuilder.nodeKey(node), false)) }
        if let correlation { out.append((dbs.tags, IndexBuilder.correlationKey(correlation), false)) }
        for (k, v) in tags.sorted(by: { $0.key < $1.key }) { out.append((dbs.tags, IndexBuilder.tagKey(k, v), false)) }
        return out
    }
}
