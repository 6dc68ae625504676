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
