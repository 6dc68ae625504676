import CLMDB
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The status of a copy running on another thread, read after it signalled.
private final class CopyStatus: @unchecked Sendable {
    // @unchecked: written once by the copying thread before it signals, read after the wait.
    var code: Int32 = 0
}

/// What a backup holds, written beside its data file as `manifest.json`: checked by restore
/// before it reports success.
public struct BackupManifest: Sendable, Hashable {
    public var replicaID: String
    public var nodeID: String
    public var headSeq: UInt64
    public var headHash: Digest
    /// SHA-256 of the backup's `data.mdb`.
    public var dataSHA256: Digest
    public var created: Timestamp

    public static let fileName = "manifest.json"

    public var json: String {
        JSONWriter.encode(["format": "recovery-backup", "version": 1, "replica_id": .string(replicaID), "node_id": .string(nodeID),
                           "head_seq": .int(Int64(clamping: headSeq)), "head_hash": .string(headHash.hex),
                           "data_sha256": .string(dataSHA256.hex), "created": .string(created.rfc3339)])
    }

    public init(replicaID: String, nodeID: String, headSeq: UInt64, headHash: Digest, dataSHA256: Digest, created: Timestamp) {
        self.replicaID = replicaID
        self.nodeID = nodeID
        self.headSeq = headSeq
        self.headHash = headHash
        self.dataSHA256 = dataSHA256
        self.created = created
    }

    public init(json bytes: [UInt8]) throws(BackupError) {
        guard bytes.count <= 64 << 10, let value = try? JSONParser.parse(bytes), value["format"] == "recovery-backup", value["version"] == 1,
              let replica = value["replica_id"]?.stringValue, let node = value["node_id"]?.stringValue,
              case .int(let seq)? = value["head_seq"], seq >= 0,
              let head = value["head_hash"]?.stringValue.flatMap(Digest.init(hex:)),
              let data = value["data_sha256"]?.stringValue.flatMap(Digest.init(hex:)),
              let created = value["created"]?.stringValue.flatMap(Timestamp.init(rfc3339:)) else {
            throw .badManifest("not a recovery backup manifest (format, version 1, replica_id, node_id, head_seq, head_hash, data_sha256, created)")
        }
        self.init(replicaID: replica, nodeID: node, headSeq: UInt64(seq), headHash: head, dataSHA256: data, created: created)
    }
}

public enum BackupError: Error, Sendable, CustomStringConvertible {
    /// A backup goes only into a missing or empty directory; a restore only to a missing path.
    case targetNotEmpty(path: String)
    case noManifest(path: String)
    case badManifest(String)
    /// The data file is not the one the manifest describes.
    case dataMismatch(expected: Digest, found: Digest)
    /// The restored log does not verify, or ends elsewhere than the manifest says.
    case verification(String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .targetNotEmpty(let path): return "\(path) exists and is not empty: nothing was written there"
        case .noManifest(let path): return "no \(BackupManifest.fileName) in \(path): not a backup"
        case .badManifest(let message): return message
        case .dataMismatch(let expected, let found): return "data.mdb has SHA-256 \(found.hex), the manifest says \(expected.hex): altered or incomplete"
        case .verification(let message): return "the restored store does not verify: \(message)"
        case .store(let error): return error.description
        }
    }

    /// Errors of the caller's input (a wrong path, a file that is not a backup), not of a store.
    public var isBadInput: Bool {
        switch self {
        case .targetNotEmpty, .noManifest, .badManifest: return true
        case .dataMismatch, .verification, .store: return false
        }
    }
}

extension EventStore {
    /// A hot, compacting copy (`mdb_env_copy2` with `MDB_CP_COMPACT`) into `directory`, which
    /// must be missing or empty, taken in one read transaction while writers go on; then its
    /// manifest, read from the copy itself so that it describes exactly what was copied.
    public func backup(to directory: String) throws(BackupError) -> BackupManifest {
        let files = FileManager.default
        if let existing = try? files.contentsOfDirectory(atPath: directory), !existing.isEmpty { throw .targetNotEmpty(path: directory) }
        if files.fileExists(atPath: directory), (try? files.contentsOfDirectory(atPath: directory)) == nil { throw .targetNotEmpty(path: directory) }
        do { try files.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw .store(.io(operation: "create \(directory)", code: 0, message: error.localizedDescription))
        }
        let dataSHA256: Digest
        do { dataSHA256 = try CompactCopy.write(env, to: directory + "/data.mdb") } catch { throw .store(error) }
        var options = StoreOptions()
        options.create = false
        let manifest: BackupManifest
        do {
            let copy = try EventStore.open(at: directory, options: options)
            let head = try copy.head()
            manifest = BackupManifest(replicaID: copy.replicaID, nodeID: copy.nodeID, headSeq: head.seq, headHash: head.hash,
                                      dataSHA256: dataSHA256, created: self.options.clock.now())
            copy.close()
        } catch { throw .store(error) }
        try? files.removeItem(atPath: directory + "/lock.mdb")
        guard files.createFile(atPath: directory + "/" + BackupManifest.fileName, contents: Data((manifest.json + "\n").utf8)) else {
            throw .store(.io(operation: "write the manifest in \(directory)", code: 0, message: "cannot create the file"))
        }
        return manifest
    }

    /// Restores the backup in `backup` to `path` (which must not exist): the manifest read,
    /// the data file's SHA-256 compared with it, the copy placed, its chain verified and its
    /// head compared with the manifest. The store gets a new replica id unless `keepReplica`
    /// (the old one's original is retired); its meta records the old id and the choice.
    public static func restore(from backup: String, to path: String, keepReplica: Bool = false,
                               options: StoreOptions = StoreOptions()) throws(BackupError) -> (manifest: BackupManifest, replicaID: String) {
        let files = FileManager.default
        if files.fileExists(atPath: path) { throw .targetNotEmpty(path: path) }
        guard let manifestBytes = files.contents(atPath: backup + "/" + BackupManifest.fileName) else { throw .noManifest(path: backup) }
        let manifest = try BackupManifest(json: Array(manifestBytes))
        let found: Digest
        do { found = try sha256(ofFile: backup + "/data.mdb") } catch { throw .store(error) }
        guard found == manifest.dataSHA256 else { throw .dataMismatch(expected: manifest.dataSHA256, found: found) }
        do {
            try files.createDirectory(atPath: path, withIntermediateDirectories: true)
            try files.copyItem(atPath: backup + "/data.mdb", toPath: path + "/data.mdb")
        } catch {
            try? files.removeItem(atPath: path)
            throw .store(.io(operation: "copy into \(path)", code: 0, message: error.localizedDescription))
        }
        var opening = options
        opening.create = false
        do {
            let store = try EventStore.open(at: path, options: opening)
            defer { store.close() }
            let report = try store.verify()
            guard report.ok else { throw BackupError.verification(report.problems.first?.description ?? "") }
            guard report.headSeq == manifest.headSeq, report.headHash == manifest.headHash else {
                throw BackupError.verification("it ends at \(report.headSeq):\(report.headHash.hex), the manifest says \(manifest.headSeq):\(manifest.headHash.hex)")
            }
            let replica = keepReplica ? store.replicaID : try store.renewReplicaID()
            try store.recordRestore(from: manifest, keptReplica: keepReplica)
            return (manifest, replica)
        } catch let error as BackupError {
            try? files.removeItem(atPath: path)
            throw error
        } catch let error as StoreError {
            try? files.removeItem(atPath: path)
            throw .store(error)
        } catch {
            try? files.removeItem(atPath: path)
            throw .store(.io(operation: "restore", code: 0, message: "\(error)"))
        }
    }

    /// Meta `restored_from`: the backup's replica id and head, and whether the id was kept.
    func recordRestore(from manifest: BackupManifest, keptReplica: Bool) throws(StoreError) {
        let record = JSONWriter.encode(["replica_id": .string(manifest.replicaID), "head": .string("\(manifest.headSeq):\(manifest.headHash.hex)"),
                                        "replica": .string(keptReplica ? "kept" : "renewed")])
        try storeCall { try env.write { txn in try txn.put(txn.dbs.meta, Key.text("restored_from"), Array(record.utf8)) } }
    }

    /// What meta `restored_from` says, when this store was restored from a backup.
    public func restoredFrom() throws(StoreError) -> String? {
        try storeCall { try env.read { txn in try txn.get(txn.dbs.meta, Key.text("restored_from")).map { String(decoding: $0, as: UTF8.self) } } }
    }

    static func sha256(ofFile path: String) throws(StoreError) -> Digest {
        let hasher = try StreamingSHA256()
        do { try FileChunks.forEach(path) { hasher.update($0) } } catch let error as StoreError { throw error } catch {
            throw .io(operation: "read \(path)", code: 0, message: "\(error)")
        }
        return hasher.finish()
    }
}

/// A store's compacting copy written to a file.
enum CompactCopy {
    /// `F_SETPIPE_SZ` of <fcntl.h>, a Linux extension the Glibc module does not import.
    static let setPipeSize: Int32 = 1031

    /// The compacting copy (`mdb_env_copyfd2` with `MDB_CP_COMPACT`, in its own read
    /// transaction) written to `path` through a pipe and hashed on the way, so the backup reads
    /// its bytes once: a second pass over the copy to hash it took most of a backup's time.
    static func write(_ env: Environment, to path: String) throws(StoreError) -> Digest {
        let output = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard output >= 0 else { throw .io(operation: "create \(path)", code: errno, message: String(cString: strerror(errno))) }
        defer { close(output) }
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw .io(operation: "pipe", code: errno, message: String(cString: strerror(errno))) }
        let (reading, writing) = (ends[0], ends[1])
        // A pipe holds 64 KiB by default: LMDB writes 1 MiB at a time, so a larger pipe saves
        // most of the switches between the two threads (Linux caps it, 1 MiB by default).
        #if os(Linux)
        _ = fcntl(writing, CompactCopy.setPipeSize, Int32(1 << 20))
        #endif
        let hasher = try StreamingSHA256()
        let copied = CopyStatus()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            // The environment is Sendable (MDB_NOTLS); the copy opens its own read transaction.
            copied.code = mdb_env_copyfd2(env.handle, writing, UInt32(MDB_CP_COMPACT))
            close(writing)
            done.signal()
        }
        // On a failed write the pipe is still drained, so the copy never blocks on it.
        var failure: StoreError?
        var buffer = [UInt8](repeating: 0, count: FileChunks.defaultChunk)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(reading, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                failure = failure ?? .io(operation: "read the copy", code: errno, message: String(cString: strerror(errno)))
                break
            }
            if count == 0 { break }
            guard failure == nil else { continue }
            buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[..<count])) }
            do { try FileDescriptorWriter.writeAll(output, buffer, count: count, path: path) } catch { failure = error }
        }
        close(reading)
        done.wait()
        if let failure { throw failure }
        guard copied.code == 0 else {
            throw .io(operation: "copy to \(path)", code: copied.code, message: String(cString: mdb_strerror(copied.code)))
        }
        guard fsync(output) == 0 else { throw .io(operation: "sync \(path)", code: errno, message: String(cString: strerror(errno))) }
        return hasher.finish()
    }
}
