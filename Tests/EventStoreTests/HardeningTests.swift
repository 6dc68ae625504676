import CLMDB
import Foundation
import Testing
@testable import EventStore

/// Regression tests for the reliability findings in the store and its codecs: each input here
/// once crashed, trapped or wrote what could not be read back.
@Suite("Hardening: hostile bytes, far times, deep payloads, canonical floats")
struct HardeningTests {
    @Test("RFC 3339 times past either end of Int64 nanoseconds are refused, the ends themselves accepted")
    func farTimes() {
        #expect(Timestamp(rfc3339: "2262-04-11T23:47:16.9Z") == nil)
        #expect(Timestamp(rfc3339: "2262-04-11T23:47:17Z") == nil)
        #expect(Timestamp(rfc3339: "9999-12-31T23:59:59.999999999Z") == nil)
        #expect(Timestamp(rfc3339: "0000-01-01T00:00:00Z") == nil)
        #expect(Timestamp(rfc3339: "2262-04-11T23:47:16.854775807Z")?.nanoseconds == .max)
        #expect(Timestamp(rfc3339: "1677-09-21T00:12:43.145224192Z")?.nanoseconds == .min)
        #expect(Timestamp(seconds: .max).nanoseconds == .max && Timestamp(seconds: .min).nanoseconds == .min)
    }

    @Test("a meta page claiming an impossible last page is a typed error, not an overflow")
    func craftedMetaPage() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.store(), withIntermediateDirectories: true)
        var page = [UInt8](repeating: 0, count: 8192)
        func put32(_ value: UInt32, _ at: Int) { for i in 0..<4 { page[at + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) } }
        put32(0xBEEF_C0DE, 16)
        put32(4096, 40)
        for i in 136..<144 { page[i] = 0xff }
        try Data(page).write(to: URL(fileURLWithPath: dir.store() + "/data.mdb"))
        #expect(MetaPageProbe.check(dataFile: dir.store() + "/data.mdb") != nil)
        #expect(throws: StoreError.self) { try EventStore.open(at: dir.store()) }
        do { _ = try EventStore.open(at: dir.store()) } catch {
            #expect(error.description.contains("impossible last page"), "\(error)")
        }
    }

    @Test("a stored key or value too short for its number is a typed error, never a read past its end")
    func shortKeys() throws {
        let bytes: [UInt8] = [1, 2, 3]
        #expect(throws: StoreError.self) { try Key.readUInt64(bytes) }
        #expect(throws: StoreError.self) { try Key.readUInt64([UInt8](repeating: 0, count: 12), at: 8) }
        #expect(try Key.readUInt64([0, 0, 0, 0, 0, 0, 1, 0]) == 256)

        // A record whose key has 3 bytes, written behind the store's back.
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        _ = try store.appendBlocking([event()])
        store.close()
        try withRawEnvironment(dir.store()) { txn in
            var dbi: MDB_dbi = 0
            #expect(mdb_dbi_open(txn, "events", 0, &dbi) == 0)
            var key: [UInt8] = [9, 9, 9]
            var value: [UInt8] = [2, 0, 0]
            key.withUnsafeMutableBytes { k in
                value.withUnsafeMutableBytes { v in
                    var mk = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
                    var mv = MDB_val(mv_size: v.count, mv_data: v.baseAddress)
                    #expect(mdb_put(txn, dbi, &mk, &mv, 0) == 0)
                }
            }
        }
        let reopened: EventStore
        do { reopened = try makeStore(dir) } catch {
            // Refused at open (the last record is the bad one): a typed error is all we ask.
            #expect(error is StoreError)
            return
        }
        defer { reopened.close() }
        #expect(throws: StoreError.self) { try reopened.verify() }
    }

    @Test("payloads nested to the deepest readable level append and read back; one level deeper is refused at append")
    func nestingDepth() async throws {
        func nested(_ levels: Int) -> EventValue {
            var value: EventValue = 1
            for _ in 0..<levels { value = ["k": value] }
            return value
        }
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        // data is level 0; 63 maps put the scalar at level 63.
        let deepest = nested(EventValue.maximumNestingLevel)
        _ = try await store.append([event("test.event", stream: "s/1", deepest)])
        #expect(try store.read(from: 1).collect().first?.data == deepest)
        for payload in [nested(EventValue.maximumNestingLevel + 1), nested(10_000), ["list": .array([nested(EventValue.maximumNestingLevel)])]] {
            do {
                _ = try await store.append([event("test.event", stream: "s/1", payload)])
                Issue.record("a payload too deep to read back was appended")
            } catch {
                guard case .invalidEvent(_, let field, let message) = error else { Issue.record("\(error)"); continue }
                #expect(field.hasPrefix("data") && message.contains("nested deeper"), "\(field): \(message)")
            }
        }
        #expect(try store.head().seq == 1)
        #expect(try store.verify().ok)
    }

    /// RFC 8949 Appendix A: the examples whose encoding is the deterministic one.
    static let appendixA: [(EventValue, String)] = [
        (0, "00"), (1, "01"), (10, "0a"), (23, "17"), (24, "1818"), (25, "1819"), (100, "1864"), (1000, "1903e8"),
        (1_000_000, "1a000f4240"), (1_000_000_000_000, "1b000000e8d4a51000"), (-1, "20"), (-10, "29"), (-100, "3863"),
        (-1000, "3903e7"), (.int(.max), "1b7fffffffffffffff"), (.int(.min), "3b7fffffffffffffff"),
        (0.0, "f90000"), (-0.0, "f98000"), (1.0, "f93c00"), (1.1, "fb3ff199999999999a"), (1.5, "f93e00"),
        (65504.0, "f97bff"), (100000.0, "fa47c35000"), (3.4028234663852886e+38, "fa7f7fffff"), (1.0e+300, "fb7e37e43c8800759c"),
        (5.960464477539063e-8, "f90001"), (0.00006103515625, "f90400"), (-4.0, "f9c400"), (-4.1, "fbc010666666666666"),
        (.double(.infinity), "f97c00"), (.double(-.infinity), "f9fc00"), (.double(.nan), "f97e00"),
        (false, "f4"), (true, "f5"), (nil, "f6"), (.bytes([]), "40"), (.bytes([1, 2, 3, 4]), "4401020304"),
        ("", "60"), ("a", "6161"), ("IETF", "6449455446"), ("\"\\", "62225c"), ("\u{00fc}", "62c3bc"), ("\u{6c34}", "63e6b0b4"),
        ("\u{10151}", "64f0908591"), ([], "80"), ([1, 2, 3], "83010203"), ([1, [2, 3], [4, 5]], "8301820203820405"),
        (.array((1...25).map { .int($0) }), "98190102030405060708090a0b0c0d0e0f101112131415161718181819"),
        ([:], "a0"), (["a": 1, "b": [2, 3]], "a26161016162820203"), (["a", ["b": "c"]], "826161a161626163"),
        (["a": "A", "b": "B", "c": "C", "d": "D", "e": "E"], "a56161614161626142616361436164614461656145"),
    ]

    @Test("canonical CBOR matches RFC 8949 Appendix A byte for byte, and decodes back")
    func rfc8949Vectors() throws {
        for (value, hex) in Self.appendixA {
            let bytes = CBORWriter.encode(value)
            #expect(bytes.map { String(format: "%02x", $0) }.joined() == hex, "\(value)")
            let decoded = try CBORReader.decode(bytes)
            if case .double(let d) = value, d.isNaN {
                #expect(decoded.doubleValue?.isNaN == true)
            } else {
                #expect(decoded == value, "\(value)")
            }
        }
    }

    @Test("half precision by integer arithmetic agrees with the hardware's for all 65,536 bit patterns")
    func halfPrecision() {
        for bits in 0...UInt16.max {
            let value = HalfPrecision.value(bits: bits)
            #if !((os(macOS) || targetEnvironment(macCatalyst)) && arch(x86_64))
            let reference = Double(Float16(bitPattern: bits))
            #expect(value.bitPattern == reference.bitPattern || (value.isNaN && reference.isNaN), "\(bits)")
            #endif
            guard !value.isNaN else { continue }
            #expect(HalfPrecision.bits(exactly: Float(value)) == bits, "\(bits)")
        }
        // Values a half cannot hold exactly: one bit too many, or too small or large.
        for value: Float in [1.0 + 0x1p-11, 65520, 0x1p-25, 0x1p-149, 1e10, 0x1p-24 * 1.5] {
            #expect(HalfPrecision.bits(exactly: value) == nil, "\(value)")
        }
    }
}
