import EventStore
import Foundation
import TestKit
import Testing

@Suite("Backup and restore")
struct BackupRestoreTests {
    static func openExisting(_ path: String) throws -> EventStore {
        var options = StoreOptions()
        options.create = false
        return try EventStore.open(at: path, options: options)
    }

    @Test("a backup taken while another process appends 100,000 events restores to a store that verifies and holds a prefix of them")
    func hotBackup() throws {
        let dir = TemporaryDirectory()
        let writer = try ChildProcess(Executables.crashHelper, [dir.store(), "append", "--batch", "500", "--max", "100000"])
        #expect(writer.waitFor { $0.contains("ready") })
        #expect(writer.waitFor(timeout: 60) { $0.contains("ack 2000\n") || $0.contains("ack 5000\n") || $0.contains("done") })
        let backups = [dir.path + "/backup-1", dir.path + "/backup-2"]
        let backup = try recoveryctl(["backup", "--store", dir.store()] + backups.flatMap { ["--to", $0] })
        #expect(backup.status == 0, "\(backup.stderr)")
        #expect(writer.waitFor(timeout: 120) { $0.contains("done") })
        writer.process.waitUntilExit()

        let live = try Self.openExisting(dir.store())
        defer { live.close() }
        // Each destination holds a copy taken in turn while the writer went on; the first is
        // restored (which verifies the chain).
        let manifests = try backups.map { try BackupManifest(json: Array(try Data(contentsOf: URL(fileURLWithPath: $0 + "/manifest.json")))) }
        #expect(manifests[1].headSeq >= manifests[0].headSeq)
        #expect(try live.event(at: manifests[1].headSeq)?.hash == manifests[1].headHash)
        let restoredPath = dir.path + "/restored"
        let restore = try recoveryctl(["restore", "--from", backups[0], "--to", restoredPath])
        #expect(restore.status == 0 && restore.stdout.contains("chain verified"), "\(restore.stderr)")
        let restored = try Self.openExisting(restoredPath)
        defer { restored.close() }
        let head = try restored.head()
        // A prefix of the live log, taken mid-stream: the same event at its head.
        #expect(head.seq >= 2_000 && head.seq <= 100_000)
        #expect(head.seq == manifests[0].headSeq)
        #expect(try live.event(at: head.seq)?.hash == head.hash)
        #expect(restored.replicaID != live.replicaID)
        #expect(try restored.restoredFrom()?.contains("\"replica\":\"renewed\"") == true)
        // The live store recorded both backups.
        #expect(try live.query(EventQuery(type: "store.backup")).collect().count == 2)
    }

    @Test("a missing or altered manifest, altered data, a target that exists: refused with a clear error, nothing overwritten; --keep-replica keeps the id")
    func refusals() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let backup = dir.path + "/backup"
        #expect(try recoveryctl(["backup", "--store", store, "--to", backup]).status == 0)

        // A backup target that is not empty is left alone.
        let busy = dir.path + "/busy"
        try FileManager.default.createDirectory(atPath: busy, withIntermediateDirectories: true)
        try Data("keep me".utf8).write(to: URL(fileURLWithPath: busy + "/note.txt"))
        let refused = try recoveryctl(["backup", "--store", store, "--to", busy])
        #expect(refused.status == 2 && refused.stderr.contains("is not empty"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: busy) == ["note.txt"])

        // A restore onto an existing path is refused and the path untouched.
        let existing = try recoveryctl(["restore", "--from", backup, "--to", busy])
        #expect(existing.status == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: busy) == ["note.txt"])

        func copyOfBackup(_ name: String) throws -> String {
            let path = dir.path + "/" + name
            try FileManager.default.copyItem(atPath: backup, toPath: path)
            return path
        }
        let noManifest = try copyOfBackup("no-manifest")
        try FileManager.default.removeItem(atPath: noManifest + "/manifest.json")
        let missing = try recoveryctl(["restore", "--from", noManifest, "--to", dir.path + "/r1"])
        #expect(missing.status == 2 && missing.stderr.contains("no manifest.json") && !FileManager.default.fileExists(atPath: dir.path + "/r1"))

        let badManifest = try copyOfBackup("bad-manifest")
        let manifest = try String(contentsOfFile: badManifest + "/manifest.json", encoding: .utf8)
        try manifest.replacingOccurrences(of: "\"head_seq\":", with: "\"head_seq\":1").write(toFile: badManifest + "/manifest.json", atomically: true, encoding: .utf8)
        let wrongHead = try recoveryctl(["restore", "--from", badManifest, "--to", dir.path + "/r2"])
        #expect(wrongHead.status == 1 && wrongHead.stderr.contains("the manifest says") && !FileManager.default.fileExists(atPath: dir.path + "/r2"))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: badManifest + "/manifest.json"))
        #expect(try recoveryctl(["restore", "--from", badManifest, "--to", dir.path + "/r2"]).status == 2)

        let badData = try copyOfBackup("bad-data")
        let data = try FileHandle(forUpdating: URL(fileURLWithPath: badData + "/data.mdb"))
        try data.seek(toOffset: 20_000)
        try data.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try data.close()
        let altered = try recoveryctl(["restore", "--from", badData, "--to", dir.path + "/r3"])
        #expect(altered.status == 1 && altered.stderr.contains("altered or incomplete") && !FileManager.default.fileExists(atPath: dir.path + "/r3"))

        let kept = try recoveryctl(["restore", "--from", backup, "--to", dir.path + "/moved", "--keep-replica"])
        #expect(kept.status == 0 && kept.stdout.contains("replica: sim-1 (kept)"))
        let moved = try Self.openExisting(dir.path + "/moved")
        defer { moved.close() }
        #expect(moved.replicaID == "sim-1")
        #expect(try moved.restoredFrom()?.contains("\"replica\":\"kept\"") == true)
    }

    @Test("drill: backup, restore, verify, rebuild and compare every projection; it fails on an altered copy and on a copy of another store, and records store.drill each time")
    func drill() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let passed = try recoveryctl(["drill", "--store", store, "--to", dir.path + "/kept"])
        #expect(passed.status == 0 && passed.stdout.contains("mismatched: none") && passed.stdout.contains("drill: ok"), "\(passed.stderr)")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/kept/manifest.json"))

        // The kept backup, altered: the drill finds it.
        let data = try FileHandle(forUpdating: URL(fileURLWithPath: dir.path + "/kept/data.mdb"))
        try data.seek(toOffset: 20_000)
        try data.write(contentsOf: Data([0xFF, 0x00, 0xFF]))
        try data.close()
        let altered = try recoveryctl(["drill", "--store", store, "--from", dir.path + "/kept"])
        #expect(altered.status == 1 && altered.stdout.contains("restored and verified: no"))

        // A sound backup of another store restores, but its states are not this store's.
        let other = dir.path + "/other"
        #expect(try recoveryctl(["demo", "--store", other, "--seed", "9"]).status == 0)
        #expect(try recoveryctl(["backup", "--store", other, "--to", dir.path + "/other-backup"]).status == 0)
        let foreign = try recoveryctl(["drill", "--store", store, "--from", dir.path + "/other-backup"])
        #expect(foreign.status == 1 && foreign.stderr.contains("state digests differ"), "\(foreign.stdout) \(foreign.stderr)")

        let drills = try recoveryctl(["query", "--store", store, "--type", "store.drill", "--format", "jsonl"]).stdout.split(separator: "\n")
        #expect(drills.count == 3)
        #expect(drills[0].contains("\"digests_match\":true") && drills[0].contains("\"verified\":true"))
        #expect(drills[1].contains("\"verified\":false") && drills[2].contains("\"digests_match\":false"))
    }

    @Test("ship writes chained segments; restore from a base backup plus segments rebuilds the live head exactly; a missing segment or another store's is refused and nothing is left")
    func shipping() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store", shipped = dir.path + "/shipped"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        #expect(try recoveryctl(["backup", "--store", store, "--to", dir.path + "/base"]).status == 0)
        for round in 0..<3 {
            #expect(try recoveryctl(["kv", "put", "k\(round)", "\(round)", "--store", store]).status == 0)
            #expect(try recoveryctl(["ship", "--store", store, "--to", shipped]).status == 0)
        }
        #expect(try recoveryctl(["ship", "--store", store, "--to", shipped]).stdout.contains("nothing to ship"))
        let segments = try FileManager.default.contentsOfDirectory(atPath: shipped).filter { $0.hasPrefix("segment-") }.sorted()
        #expect(segments.count == 3)
        for segment in segments { #expect(try recoveryctl(["verify", "--export", shipped + "/" + segment]).status == 0) }

        let restored = try recoveryctl(["restore", "--from", dir.path + "/base", "--to", dir.path + "/restored", "--segments", shipped])
        #expect(restored.status == 0, "\(restored.stderr)")
        let live = try Self.openExisting(store), copy = try Self.openExisting(dir.path + "/restored")
        #expect(try copy.head() == live.head())
        #expect(try copy.verify().ok)
        live.close()
        copy.close()

        // Without the middle segment the chain breaks: refused, and no half-restored store stays.
        let gapped = dir.path + "/gapped"
        try FileManager.default.copyItem(atPath: shipped, toPath: gapped)
        try FileManager.default.removeItem(atPath: gapped + "/" + segments[1])
        let gap = try recoveryctl(["restore", "--from", dir.path + "/base", "--to", dir.path + "/r-gap", "--segments", gapped])
        #expect(gap.status == 1 && gap.stderr.contains("does not continue this store's chain") && !FileManager.default.fileExists(atPath: dir.path + "/r-gap"))

        // Another store's segments do not continue this base.
        let other = dir.path + "/other"
        #expect(try recoveryctl(["demo", "--store", other, "--seed", "4"]).status == 0)
        #expect(try recoveryctl(["ship", "--store", other, "--to", dir.path + "/other-shipped"]).status == 0)
        let foreign = try recoveryctl(["restore", "--from", dir.path + "/base", "--to", dir.path + "/r-foreign", "--segments", dir.path + "/other-shipped"])
        #expect(foreign.status == 1 && !FileManager.default.fileExists(atPath: dir.path + "/r-foreign"))
        // Shipping another store into this store's directory is refused.
        #expect(try recoveryctl(["ship", "--store", other, "--to", shipped]).status == 2)
    }
}
