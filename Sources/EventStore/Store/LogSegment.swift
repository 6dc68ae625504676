import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A segment file: events `first...last` of one store as JSONL envelopes (the lines
/// `query --format jsonl` writes), so `verify --export` checks it offline and its first `prev`
/// links it to the chain before it. Log shipping and retention archives both write them.
public enum LogSegment {
    /// `segment-FIRST-LAST.jsonl`, zero-padded so that names sort in log order.
    public static func fileName(first: UInt64, last: UInt64) -> String {
        "segment-" + padded(first) + "-" + padded(last) + ".jsonl"
    }

    private static func padded(_ value: UInt64) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    /// What was written: the file, its SHA-256 and the events in it.
    public struct Written: Sendable, Hashable {
        public var path: String
        public var sha256: Digest
        public var events: UInt64
    }

    /// Writes events `first...last` of `store` into `directory` (created if missing) under their
    /// segment name: to a temporary name first, synced, then renamed and the directory synced,
    /// so the segment is whole and durable before anything relies on it.
    public static func write(_ store: EventStore, first: UInt64, last: UInt64, into directory: String) throws(StoreError) -> Written {
        try makeDirectory(directory)
        let name = fileName(first: first, last: last)
        let path = directory + "/" + name
        let temporary = directory + "/." + name + ".tmp"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw failure("create \(temporary)") }
        var closed = false
        defer { if !closed { close(descriptor); unlink(temporary) } }
        let hasher = try StreamingSHA256()
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var count: UInt64 = 0
        func flush() throws(StoreError) {
            hasher.update(buffer)
            try FileDescriptorWriter.writeAll(descriptor, buffer, path: temporary)
            buffer.removeAll(keepingCapacity: true)
        }
        var flushFailure: StoreError?
        try store.scan(from: first, through: last) { event in
            buffer.append(contentsOf: Envelope.json(event).utf8)
            buffer.append(0x0A)
            count += 1
            if buffer.count >= 1 << 20 {
                do throws(StoreError) { try flush() } catch { flushFailure = error; return false }
            }
            return true
        }
        if let flushFailure { throw flushFailure }
        try flush()
        guard count == last - first + 1 else { throw .corrupt(seq: first + count, "the log ended before seq \(last)") }
        guard fsync(descriptor) == 0 else { throw failure("sync \(temporary)") }
        closed = true
        close(descriptor)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw failure("rename \(temporary)")
        }
        try syncDirectory(directory)
        return Written(path: path, sha256: hasher.finish(), events: count)
    }

    /// Reads the segment at `path` back and checks it: every line verifies, the first links to
    /// `prev`, the last is `head`, and the file hashes to `sha256`. Returns the first problem.
    public static func check(_ path: String, prev: Digest, head: Anchor, sha256: Digest) -> String? {
        var verifier = ExportVerifier()
        var firstPrev: Digest?
        guard let hasher = try? StreamingSHA256() else { return "SHA-256 is unavailable" }
        do {
            try FileLines.forEach(path, chunk: hasher.update) { line in
                if firstPrev == nil, let value = try? JSONParser.parse(line), let event = try? Envelope.event(from: value) {
                    firstPrev = event.prev
                }
                verifier.check(line: line)
            }
        } catch {
            return "cannot read it back: \(error)"
        }
        if let problem = verifier.problems.first { return problem.description }
        guard firstPrev == prev else { return "its first event does not link to the chain before it" }
        guard verifier.head == head else { return "it ends at \(verifier.head.map { "\($0)" } ?? "nothing"), not at \(head)" }
        guard hasher.finish() == sha256 else { return "its bytes changed after they were written" }
        return nil
    }

    /// Creates `path` and its missing parents; an existing directory is fine, a file is not.
    private static func makeDirectory(_ path: String) throws(StoreError) {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw .outOfRange("\(path) is a file, not a directory") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw .io(operation: "create \(path)", code: 0, message: error.localizedDescription)
        }
    }

    private static func syncDirectory(_ directory: String) throws(StoreError) {
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("open \(directory)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw failure("sync \(directory)") }
    }

    private static func failure(_ operation: String) -> StoreError {
        let code = errno
        if code == ENOSPC || code == EDQUOT { return .diskFull(path: operation) }
        if code == EACCES || code == EROFS { return .readOnly(path: operation) }
        return .io(operation: operation, code: code, message: String(cString: strerror(code)))
    }
}
