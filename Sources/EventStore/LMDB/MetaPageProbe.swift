#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads LMDB's two meta pages straight from data.mdb before LMDB maps the file.
///
/// LMDB trusts its meta page: if the file was truncated (a partial copy, a full disk during a
/// copy), reading a page past the end of the mapping raises SIGBUS and kills the process. Comparing
/// the file size with the last page the newest meta page claims turns that into an error.
enum MetaPageProbe {
    static let magic: UInt32 = 0xBEEF_C0DE
    // Offsets in an LMDB 0.9 meta page on a 64-bit platform: a 16-byte page header, then
    // MDB_meta { magic u32, version u32, address ptr, mapsize size_t, dbs[2] (48 bytes each),
    // last_pg, txnid }. The free DB's md_pad holds the page size.
    static let magicOffset = 16, pageSizeOffset = 40, lastPageOffset = 136, txnIDOffset = 144

    /// Returns nil when the file is consistent, or the error describing what is wrong.
    static func check(dataFile path: String) -> StoreError? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil } // LMDB will report what it cannot open.
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        let size = UInt64(info.st_size)
        var first = [UInt8](repeating: 0, count: 152)
        guard pread(fd, &first, first.count, 0) == first.count else {
            return .notAStore(path: path, reason: "data.mdb is \(size) bytes, too short to be an LMDB file")
        }
        guard read32(first, magicOffset) == magic else {
            return .notAStore(path: path, reason: "data.mdb is not an LMDB file")
        }
        let pageSize = UInt64(read32(first, pageSizeOffset))
        guard pageSize >= 512, pageSize <= 65536, pageSize & (pageSize - 1) == 0 else {
            return .notAStore(path: path, reason: "data.mdb has an implausible page size \(pageSize)")
        }
        var second = [UInt8](repeating: 0, count: 152)
        var newest = first
        if pread(fd, &second, second.count, off_t(pageSize)) == second.count, read32(second, magicOffset) == magic,
           read64(second, txnIDOffset) > read64(first, txnIDOffset) {
            newest = second
        }
        // The last page number is read from the file: a crafted one must not overflow the size.
        let lastPage = read64(newest, lastPageOffset)
        let (pages, overflowA) = lastPage.addingReportingOverflow(1)
        let (needed, overflowB) = pages.multipliedReportingOverflow(by: pageSize)
        guard !overflowA, !overflowB else {
            return .notAStore(path: path, reason: "data.mdb's meta page claims an impossible last page \(lastPage)")
        }
        if size < max(needed, 2 * pageSize) {
            return .truncated(path: path, expectedBytes: max(needed, 2 * pageSize), actualBytes: size)
        }
        return nil
    }

    private static func read32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) | UInt32(b[at + 1]) << 8 | UInt32(b[at + 2]) << 16 | UInt32(b[at + 3]) << 24
    }

    private static func read64(_ b: [UInt8], _ at: Int) -> UInt64 {
        UInt64(read32(b, at)) | UInt64(read32(b, at + 4)) << 32
    }
}
