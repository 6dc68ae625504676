import COpenSSL
import Foundation

/// Decodes DER with an OpenSSL `d2i_*` function, which must use every byte; nil otherwise
/// (OpenSSL's error queue cleared). `free` releases an object decoded from a prefix.
func decodeDER(_ der: [UInt8], _ d2i: (UnsafeMutablePointer<UnsafePointer<UInt8>?>, Int) -> OpaquePointer?,
               free: (OpaquePointer) -> Void) -> OpaquePointer? {
    defer { ERR_clear_error() }
    return der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
        var cursor = buffer.baseAddress
        guard let parsed = d2i(&cursor, buffer.count) else { return nil }
        guard let cursor, let base = buffer.baseAddress, cursor - base == buffer.count else {
            free(parsed)
            return nil
        }
        return parsed
    }
}

/// An ASN1_TIME as seconds since the epoch (nil when OpenSSL cannot read it).
func epochSeconds(_ time: UnsafePointer<ASN1_TIME>?) -> Int64? {
    guard let time else { return nil }
    var parts = tm()
    guard ASN1_TIME_to_tm(time, &parts) == 1 else { return nil }
    return Int64(timegm(&parts))
}
