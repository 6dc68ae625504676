import ArgumentParser
import EventStore
import Foundation

/// Runs a backup or restore, turning its errors into the CLI's failure (2 for bad input).
func backupCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as BackupError {
        throw CLIFailure(code: error.isBadInput ? 2 : 1, message: error.description)
    }
}

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
            let manifest = try backupCall { try store.backup(to: destination) }
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

    func run() throws {
        let (manifest, replica) = try backupCall { try EventStore.restore(from: from, to: to, keepReplica: keepReplica, options: GlobalArguments.options) }
        print("restored \(manifest.headSeq) events (head \(manifest.headHash.hex.prefix(16))) to \(to); chain verified")
        print("replica: \(replica) (\(keepReplica ? "kept" : "renewed; was \(manifest.replicaID)"))")
    }
}
