import ArgumentParser
import EventStore
import Foundation
import Projections

struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Retention: move the events through seq N out of the live store into a verifiable segment in DIR.",
        discussion: """
        Saves every projection's state at N, writes DIR/segment-FIRST-N.jsonl (verify --export checks it; \
        restore --segments replays it), reads it back and checks it, then removes those events and their index \
        entries and records store.archived. verify then checks the chain from the anchor at N; queries that reach \
        into the archived range say where the archive is. Exit 2 when N is outside the live log.
        """)

    @OptionGroup var global: GlobalArguments
    @Option(name: .customLong("through-seq"), help: "The last seq to archive.") var throughSeq: UInt64
    @Option(help: "The archive directory (created if missing).") var to: String

    func run() throws {
        let store = try global.openExisting()
        defer { store.close() }
        let outcome = try projectionCall { try Retention.archive(store, through: throughSeq, to: to, projections: Catalog.projections) }
        let mark = outcome.mark
        print("archived seq \(mark.firstSeq) .. \(mark.throughSeq) (\(outcome.events) events) to \(mark.location)")
        print("segment sha256 \(mark.segmentSHA256.hex)")
        print("anchor \(mark.throughSeq):\(mark.hash.hex)")
        print("projections saved at seq \(mark.throughSeq): \(outcome.snapshots.joined(separator: ", "))")
    }
}

/// Tells the user, on stderr, which archived ranges a read from `fromSeq` reaches into: those
/// events are no longer in the store, and this says where they are.
func noteArchives(of store: EventStore, from fromSeq: UInt64?) throws {
    let archives = try storeCall { try store.archives() }
    for mark in archives where (fromSeq ?? 1) <= mark.throughSeq {
        FileHandle.standardError.write(Data("recoveryctl: note: seq \(mark.firstSeq) .. \(mark.throughSeq) of \(store.path) are archived in \(mark.location)\n".utf8))
    }
}
