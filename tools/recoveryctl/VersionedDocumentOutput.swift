import EventStore
import Healing
import Policies
import Projections

/// The documents versioned in the log that the CLI lists and shows.
enum VersionedKind { case policy, runbook }

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

