import ArgumentParser
import EventStore
import Foundation

struct BackupCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backup",
        abstract: "Hot, compacting copies of the store (writers keep appending) to one or more empty directories, each with a manifest.",
        discussion: "Each --to gets data.mdb and manifest.json (replica id, head seq, chain head hash, SHA-256 of the data, time); the store records store.backup for each. A --to that exists and is not empty is refused (exit 2) and nothing is written there.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "A destination directory, missing or empty (repeatable: other disks or regions).") var to: [String] = []

    func run() throws {
        guard !to.isEmpty else { throw CLIFailure.usage("give at least one --to DIR") }
        let store = try global.openExisting()
        defer { store.close() }
        for destination in to {
            let manifest = try domainCall { try store.backup(to: destination) }
            _ = try storeCall {
                try store.appendBlocking([NewEvent(type: "store.backup", stream: "store/backups", data: [
                    "to": .string(destination), "head_seq": .int(Int64(clamping: manifest.headSeq)), "head_hash": .string(manifest.headHash.hex),
                    "data_sha256": .string(manifest.dataSHA256.hex),
                ])])
            }
            print("backed up through seq \(manifest.headSeq) (\(manifest.headHash.hex.prefix(16))) to \(destination)")
        }
    }
}

struct RestoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Restore a backup to a new store: the manifest and the chain are checked before success is reported.",
        discussion: "The restored store gets a new replica id (its lost tail may have sent operations to peers under the old one); --keep-replica keeps it, for moving a store whose original is retired. Its meta records the backup and the choice. An existing --to is refused (exit 2).")

    @Option(help: "The backup directory (data.mdb and manifest.json).") var from: String
    @Option(help: "Where to create the restored store (must not exist).") var to: String
    @Flag(name: .customLong("keep-replica"), help: "Keep the backup's replica id.") var keepReplica = false
    @Option(help: "A directory of segments (recoveryctl ship or archive) to replay after the base backup (repeatable).") var segments: [String] = []

    func run() throws {
        let (manifest, replica) = try domainCall { try EventStore.restore(from: from, to: to, keepReplica: keepReplica, options: GlobalArguments.options) }
        print("restored \(manifest.headSeq) events (head \(manifest.headHash.hex.prefix(16))) to \(to); chain verified")
        if !segments.isEmpty {
            var options = GlobalArguments.options
            options.create = false
            let store = try storeCall { try EventStore.open(at: to, options: options) }
            do {
                let applied = try Segments.apply(segments, to: store)
                let head = try storeCall { try store.head() }
                store.close()
                print("replayed \(applied.events) events from \(applied.segments) segments; head \(head.seq):\(head.hash.hex.prefix(16))")
            } catch {
                store.close()
                try? FileManager.default.removeItem(atPath: to)
                throw error
            }
        }
        print("replica: \(replica) (\(keepReplica ? "kept" : "renewed; was \(manifest.replicaID)"))")
    }
}

struct DrillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drill",
        abstract: "The automated disaster-recovery test: back up, restore elsewhere, verify the chain, rebuild every projection and compare each state digest with the live store's at the same seq.",
        discussion: "Records store.drill {verified, digests_match, head_seq, projections, mismatched}; exit 1 on any failure or mismatch. --from drills an existing backup instead of taking one; --to keeps the backup it takes.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "Keep the backup the drill takes here (missing or empty directory).") var to: String?
    @Option(help: "Drill this existing backup instead of taking one.") var from: String?

    func run() throws {
        if to != nil && from != nil { throw CLIFailure.usage("give --to or --from, not both") }
        let store = try global.openExisting()
        defer { store.close() }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("recoveryctl-drill-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let backup = from ?? to ?? scratch + "/backup"
        if from == nil { _ = try domainCall { try store.backup(to: backup) } }

        var outcome = DrillOutcome()
        do {
            let (manifest, _) = try EventStore.restore(from: backup, to: scratch + "/restored", options: GlobalArguments.options)
            outcome.verified = true
            outcome.headSeq = manifest.headSeq
            var options = GlobalArguments.options
            options.create = false
            let restored = try EventStore.open(at: scratch + "/restored", options: options)
            defer { restored.close() }
            for projection in Catalog.projections.all {
                _ = try projection.rebuild(in: restored)
                let mine = try projection.state(at: manifest.headSeq, in: restored).digest
                let live = try projection.state(at: manifest.headSeq, in: store).digest
                outcome.compared += 1
                if mine != live { outcome.mismatched.append(projection.name) }
            }
        } catch {
            outcome.failure = "\(error)"
        }
        let ok = outcome.verified && outcome.failure == nil && outcome.mismatched.isEmpty
        _ = try storeCall {
            try store.appendBlocking([NewEvent(type: "store.drill", stream: "store/drills", data: [
                "verified": .bool(outcome.verified), "digests_match": .bool(ok), "head_seq": .int(Int64(clamping: outcome.headSeq)),
                "projections": .int(Int64(outcome.compared)), "mismatched": .array(outcome.mismatched.map { .string($0) }),
                "error": .string(outcome.failure ?? ""),
            ])])
        }
        print("backup: \(from ?? to ?? "(temporary)")")
        print("restored and verified: \(outcome.verified ? "yes, through seq \(outcome.headSeq)" : "no")")
        print("projections compared: \(outcome.compared), mismatched: \(outcome.mismatched.isEmpty ? "none" : outcome.mismatched.joined(separator: ", "))")
        guard ok else { throw CLIFailure(code: 1, message: "drill failed: \(outcome.failure ?? "state digests differ: \(outcome.mismatched.joined(separator: ", "))")") }
        print("drill: ok")
    }
}

/// What a drill found.
struct DrillOutcome {
    var verified = false
    var headSeq: UInt64 = 0
    var compared = 0
    var mismatched: [String] = []
    var failure: String?
}
