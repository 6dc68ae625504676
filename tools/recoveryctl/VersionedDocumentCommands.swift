import EventStore
import Healing
import Policies
import Projections

import ArgumentParser

/// Reads the JSON document of `kind` at `path` (at most `limit` bytes) with `parse`, refusing
/// one that breaks its rules with exit 2, every error with its JSON path.
func readDocument<D>(_ path: String, kind: String, limit: Int, _ parse: ([UInt8]) throws(DocumentErrors) -> D) throws -> D {
    do { return try parse(try readFile(path, limit: limit)) } catch let errors as DocumentErrors {
        throw CLIFailure.usage("\(path) is not a valid \(kind): " + errors.errors.map(\.description).joined(separator: "; "))
    }
}

/// The documents versioned in the log that the CLI lists and shows.
enum VersionedKind { case policy, runbook }

/// What the shared `activate`, `list` and `show` subcommands need of a kind of document.
protocol VersionedDocumentKind {
    static var kind: VersionedKind { get }
    /// `policy` or `runbook`, in help and output.
    static var noun: String { get }
    /// Records that `version` of `name` is in force, after checking that it exists.
    static func activate(_ name: String, version: Int, in store: EventStore) throws
    /// Reads and checks the document at `path` (exit 2 when it is not valid, before any store
    /// is touched) and returns its name and a publisher of it.
    static func document(_ path: String) throws -> (name: String, publish: (EventStore) throws -> (version: Int, isNew: Bool))
}

enum PolicyKind: VersionedDocumentKind {
    static let kind = VersionedKind.policy
    static let noun = "policy"
    static func activate(_ name: String, version: Int, in store: EventStore) throws {
        let book = try domainCall { try PolicyBook(store: store) }
        try domainCall { try book.activate(name, version: version) }
    }
    static func document(_ path: String) throws -> (name: String, publish: (EventStore) throws -> (version: Int, isNew: Bool)) {
        let document = try readPolicyDocument(path)
        return (document.name, { store in try domainCall { try PolicyBook(store: store).publish(document) } })
    }
}

enum RunbookKind: VersionedDocumentKind {
    static let kind = VersionedKind.runbook
    static let noun = "runbook"
    static func activate(_ name: String, version: Int, in store: EventStore) throws {
        let library = try domainCall { try RunbookLibrary(store: store) }
        try domainCall { try library.activate(name, version: version) }
    }
    static func document(_ path: String) throws -> (name: String, publish: (EventStore) throws -> (version: Int, isNew: Bool)) {
        let runbook = try readRunbook(path)
        return (runbook.name, { store in try domainCall { try RunbookLibrary(store: store).publish(runbook) } })
    }
}

struct VersionPublish<K: VersionedDocumentKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "publish", abstract: "Publish FILE as the next version of its \(K.noun) (the same document again is the same version).",
                             discussion: "A document that breaks the rules is refused with exit 2, naming the JSON path and reason of every error, and nothing is recorded.")
    }
    @OptionGroup var global: GlobalArguments
    @Argument(help: "The document (JSON).") var file: String
    @Flag(help: "Activate the version too.") var activate = false

    func run() throws {
        let (name, publish) = try K.document(file)
        let store = try global.openForWriting()
        defer { store.close() }
        let (version, isNew) = try publish(store)
        print("\(name) version \(version)\(isNew ? " published" : ": already published, nothing recorded")")
        if activate {
            try K.activate(name, version: version, in: store)
            print("\(name) version \(version) active")
        }
    }
}

struct VersionActivate<K: VersionedDocumentKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "activate", abstract: "Make VERSION of NAME the \(K.noun) in force (an older version: the rollback).")
    }
    @OptionGroup var global: GlobalArguments
    @Argument(help: "The name.") var name: String
    @Argument(help: "The version.") var version: Int

    func run() throws {
        let store = try global.openExisting()
        defer { store.close() }
        try K.activate(name, version: version, in: store)
        print("\(name) version \(version) active")
    }
}

struct VersionList<K: VersionedDocumentKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "list", abstract: "Every \(K.noun) in the log: its versions and the one in force.")
    }
    @OptionGroup var global: GlobalArguments
    @Option(name: .customLong("at-seq"), help: "As the log stood after event N.") var atSeq: UInt64?

    func run() throws {
        let store = try global.openExisting()
        defer { store.close() }
        printVersions(try versionedDocuments(K.kind, in: store, atSeq: atSeq), heading: K.noun.uppercased())
    }
}

struct VersionShow<K: VersionedDocumentKind>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(commandName: "show", abstract: "A \(K.noun)'s document: the active version, or --version V, as the log stands (or stood --at-seq N).")
    }
    @OptionGroup var global: GlobalArguments
    @Argument(help: "The name.") var name: String
    @Option(help: "The version (default: the active one).") var version: Int?
    @Option(name: .customLong("at-seq"), help: "As the log stood after event N.") var atSeq: UInt64?

    func run() throws {
        let store = try global.openExisting()
        defer { store.close() }
        try printVersion(try versionedDocuments(K.kind, in: store, atSeq: atSeq), kind: K.noun, name: name, version: version, atSeq: atSeq)
    }
}

/// The policies or runbooks of `store`, as the log stands, or stood after event `atSeq`.
func versionedDocuments(_ kind: VersionedKind, in store: EventStore, atSeq: UInt64?) throws -> [String: VersionedDocument] {
    let seq = try atSeq ?? storeCall { try store.head().seq }
    return try projectionCall {
        switch kind {
        case .policy: return try Replay(store: store, projection: PoliciesProjection()).state(at: seq).value
        case .runbook: return try Replay(store: store, projection: RunbooksProjection()).state(at: seq).value.runbooks
        }
    }
}

/// Prints the versions of named documents (policies, runbooks) and the one in force.
func printVersions(_ documents: [String: VersionedDocument], heading: String) {
    print(heading.padding(toLength: 32, withPad: " ", startingAt: 0) + "ACTIVE  VERSIONS")
    for (name, document) in documents.sorted(by: { $0.key < $1.key }) {
        let versions = document.versions.keys.compactMap { Int($0) }.sorted().map(String.init).joined(separator: ",")
        print(name.padding(toLength: 32, withPad: " ", startingAt: 0) + (document.active.map(String.init) ?? "-").padding(toLength: 8, withPad: " ", startingAt: 0) + versions)
    }
}

/// Prints one version of a named document as JSON; exit 2 when there is no such version.
func printVersion(_ documents: [String: VersionedDocument], kind: String, name: String, version: Int?, atSeq: UInt64?) throws {
    guard let document = documents[name] else { throw CLIFailure.usage("no \(kind) named \(name)\(atSeq.map { " at seq \($0)" } ?? "")") }
    guard let chosen = version ?? document.active else { throw CLIFailure.usage("\(name) has no active version: give --version") }
    guard let stored = document.versions[String(chosen)] else { throw CLIFailure.usage("\(name) has no version \(chosen)") }
    print(JSONWriter.encode([.init(stringLiteral: kind): .string(name), "version": .int(Int64(chosen)), "active": .bool(document.active == chosen),
                             "sha256": .string(stored.sha256), "published_seq": .int(Int64(clamping: stored.seq)), "document": stored.document]))
}

