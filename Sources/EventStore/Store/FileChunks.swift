#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads a file front to back in large chunks with `read(2)` (Foundation's `FileHandle` reads
/// a page per system call here): for hashing backups and checking exports of any size in
/// constant memory.
public enum FileChunks {
    public static let defaultChunk = 4 << 20

    /// Calls `body` with each chunk; a file that cannot be opened or read is a typed error.
    public static func forEach(_ path: String, chunk size: Int = defaultChunk, _ body: ([UInt8]) throws -> Void) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw StoreError.io(operation: "open \(path)", code: errno, message: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: max(4_096, size))
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError.io(operation: "read \(path)", code: errno, message: String(cString: strerror(errno)))
            }
            if count == 0 { return }
            try body(count == buffer.count ? buffer : Array(buffer[..<count]))
        }
    }
}

/// Reads a file's lines (without their newline) in large chunks: constant memory for a file
/// of any size, with a bound on one line.
public enum FileLines {
    /// A line longer than the bound.
    public struct TooLong: Error, Sendable, CustomStringConvertible {
        public let path: String
        public let limit: Int
        public var description: String { "\(path): a line longer than \(limit) bytes" }
    }

    /// A record is at most 4 MiB of CBOR; its JSON line may be a few times that.
    public static let defaultLimit = 4 * NewEvent.maximumRecordBytes

    /// Calls `body` with each line; `observe` sees each chunk as read (to hash the file).
    public static func forEach(_ path: String, limit: Int = defaultLimit, chunk observe: ([UInt8]) -> Void = { _ in },
                               _ body: ([UInt8]) throws -> Void) throws {
        var pending: [UInt8] = []
        try FileChunks.forEach(path, chunk: 1 << 20) { chunk in
            observe(chunk)
            pending.append(contentsOf: chunk)
            var start = 0
            while let newline = pending[start...].firstIndex(of: 0x0A) {
                try body(Array(pending[start..<newline]))
                start = newline + 1
            }
            pending.removeFirst(start)
            guard pending.count <= limit else { throw TooLong(path: path, limit: limit) }
        }
        if !pending.isEmpty { try body(pending) }
    }
}

/// Writes whole buffers to a file descriptor, through short writes and interruptions.
enum FileDescriptorWriter {
    /// Writes the first `count` bytes of `bytes` (all of them by default) to `descriptor`.
    static func writeAll(_ descriptor: Int32, _ bytes: [UInt8], count: Int? = nil, path: String) throws(StoreError) {
        let total = min(count ?? bytes.count, bytes.count)
        var offset = 0
        while offset < total {
            let written = bytes.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return write(descriptor, base + offset, total - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let code = errno
                if code == ENOSPC || code == EDQUOT { throw .diskFull(path: path) }
                throw .io(operation: "write \(path)", code: code, message: String(cString: strerror(code)))
            }
            offset += written
        }
    }
}

