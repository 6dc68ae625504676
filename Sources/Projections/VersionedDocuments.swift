import EventStore

/// One published version of a named JSON document (a policy, a runbook).
public struct DocumentVersion: Sendable, Codable, Equatable {
    public var sha256: String
    public var document: EventValue
    public var seq: UInt64
    public var time: Timestamp
}

/// The versions of one named document and the one in force.
public struct VersionedDocument: Sendable, Codable, Equatable {
    /// Version number (as text: state keys are strings) -> version.
    public var versions: [String: DocumentVersion] = [:]
    public var active: Int?
    public var activatedSeq: UInt64?

    public init() {}

    public var latest: Int { versions.keys.compactMap { Int($0) }.max() ?? 0 }

    /// The stored document of `version`.
    public func document(_ version: Int) -> EventValue? { versions[String(version)]?.document }

    enum CodingKeys: String, CodingKey { case versions, active, activatedSeq = "activated_seq" }
}

/// Documents versioned in the log: `KIND.published` {KIND, version, sha256, document} and
/// `KIND.activated` {KIND, version} on stream `KIND/NAME`. Publishing the same document again
/// is the same version; activating an older version is the rollback. Policies and runbooks
/// are kept this way, so which version was in force at any point is a query.
public struct VersionedDocuments: Sendable {
    /// `policy` or `runbook`: the event type prefix, the payload's name field, the stream prefix.
    public let kind: String
    /// The name a valid document has, nil for one that is not valid.
    public let validName: @Sendable (EventValue) -> String?

    public init(kind: String, validName: @escaping @Sendable (EventValue) -> String?) {
        self.kind = kind
        self.validName = validName
    }

    public var publishedType: String { "\(kind).published" }
    public var activatedType: String { "\(kind).activated" }
    public func stream(_ name: String) -> String { "\(kind)/\(name)" }

    /// SHA-256 of the document's canonical JSON: what `published` carries.
    public static func sha256(_ document: EventValue) -> Digest? {
        try? Digest.sha256(Array(JSONWriter.encode(document).utf8))
    }

    /// Applies a published or activated event (others are ignored); a malformed one throws.
    public func apply(_ event: Event, to documents: inout [String: VersionedDocument]) throws(PayloadError) {
        guard event.type == publishedType || event.type == activatedType else { return }
        let d = try PayloadReader(event.data)
        let name = try d.string(kind)
        let version = try d.int("version", in: 1...1_000_000)
        if event.type == activatedType {
            guard documents[name]?.versions[String(version)] != nil else { throw PayloadError(field: "version", message: "\(name) has no version \(version)") }
            documents[name]?.active = version
            documents[name]?.activatedSeq = event.seq
            return
        }
        guard let document = event.data["document"], let sha = event.data["sha256"]?.stringValue else {
            throw PayloadError(field: "document", message: "a published \(kind) needs its document and sha256")
        }
        guard Self.sha256(document)?.hex == sha else { throw PayloadError(field: "sha256", message: "does not match the document") }
        guard validName(document) == name else { throw PayloadError(field: "document", message: "not a valid \(kind) named \(name)") }
        guard documents[name]?.versions[String(version)] == nil else {
            throw PayloadError(field: "version", message: "version \(version) of \(name) is already published")
        }
        documents[name, default: VersionedDocument()].versions[String(version)] = DocumentVersion(sha256: sha, document: document, seq: event.seq, time: event.time)
    }

    /// Publishes `document` named `name` as its next version, given what the log holds now
    /// (`current`); the same document as a published version is that version, nothing recorded.
    public func publish(_ document: EventValue, named name: String, current: VersionedDocument?, in store: EventStore) throws(StoreError) -> (version: Int, isNew: Bool) {
        guard let sha = Self.sha256(document) else { throw .crypto("SHA-256 is unavailable") }
        if let match = current?.versions.first(where: { $0.value.sha256 == sha.hex }), let version = Int(match.key) { return (version, false) }
        let version = (current?.latest ?? 0) + 1
        try append(name, publishedType, [kind: .string(name), "version": .int(Int64(version)), "sha256": .string(sha.hex), "document": document], in: store)
        return (version, true)
    }

    /// Records that `version` of `name` is in force (the caller checked that it exists).
    public func activate(_ name: String, version: Int, in store: EventStore) throws(StoreError) {
        try append(name, activatedType, [kind: .string(name), "version": .int(Int64(version))], in: store)
    }

    private func append(_ name: String, _ type: String, _ data: [String: EventValue], in store: EventStore) throws(StoreError) {
        let stream = stream(name)
        let version = try store.streamVersion(stream)
        // Two publishers racing for the same version number: one of them gets a conflict.
        _ = try store.appendBlocking([NewEvent(type: type, stream: stream, data: .map(data))],
                                     expecting: [stream: version == 0 ? .noStream : .exactly(version)])
    }
}
