/// Deterministic CBOR (RFC 8949 section 4.2): shortest integer and length heads, definite
/// lengths, map keys sorted by their encoded bytes, floats in the shortest form that keeps the
/// value. The same value always gives the same bytes, which the hash chain relies on.
public struct CBORWriter: Sendable {
    public private(set) var bytes: [UInt8] = []
    /// Whether a NaN or an infinity was written (which the log refuses in payloads: an
    /// appender validates a payload's values only when this is set).
    private(set) var sawNonFinite = false
    /// Set when a value nested deeper than `EventValue.maximumNestingLevel` was met; its deeper
    /// part is not written (nor recursed into: a hostile depth must not exhaust the stack).
    private(set) var sawTooDeep = false
    private var nestingLevel = 0

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    mutating func head(_ major: UInt8, _ argument: UInt64) {
        let m = major << 5
        switch argument {
        case 0..<24: bytes.append(m | UInt8(argument))
        case 24...0xff: bytes.append(m | 24); bytes.append(UInt8(argument))
        case 0x100...0xffff: bytes.append(m | 25); appendBigEndian(UInt16(argument))
        case 0x1_0000...0xffff_ffff: bytes.append(m | 26); appendBigEndian(UInt32(argument))
        default: bytes.append(m | 27); appendBigEndian(argument)
        }
    }

    private mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
    }

    public mutating func int(_ value: Int64) {
        if value >= 0 { head(0, UInt64(value)) } else { head(1, UInt64(bitPattern: ~value)) }
    }

    public mutating func uint(_ value: UInt64) { head(0, value) }

    public mutating func string(_ value: String) {
        var copy = value
        copy.withUTF8 { utf8 in
            head(3, UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func byteString<C: Collection>(_ value: C) where C.Element == UInt8 {
        head(2, UInt64(value.count))
        bytes.append(contentsOf: value)
    }

    mutating func appendRawBytes(_ item: UnsafeRawBufferPointer) { bytes.append(contentsOf: item) }

    /// A pre-encoded key, from its words: no array, so no reference counting and no lazily
    /// initialised global per key written.
    mutating func key(_ key: EncodedKey) {
        withUnsafeBytes(of: key.low.littleEndian) { bytes.append(contentsOf: UnsafeRawBufferPointer(start: $0.baseAddress, count: min(8, key.length))) }
        if key.length > 8 {
            withUnsafeBytes(of: key.high.littleEndian) { bytes.append(contentsOf: UnsafeRawBufferPointer(start: $0.baseAddress, count: key.length - 8)) }
        }
    }

    /// Empties the writer, keeping its storage, so that one writer serves record after record.
    mutating func reset() {
        bytes.removeAll(keepingCapacity: true)
        sawNonFinite = false
        sawTooDeep = false
        nestingLevel = 0
    }

    /// A text string of `length` bytes that `body` appends in place (for text assembled from
    /// parts, without building a `String` first).
    mutating func text(length: Int, _ body: (inout [UInt8]) -> Void) {
        head(3, UInt64(length))
        body(&bytes)
    }

    mutating func appendZeros(_ count: Int) { bytes.append(contentsOf: repeatElement(0, count: count)) }

    /// A 32-byte byte string.
    mutating func digest(_ value: Digest) {
        bytes.append(0x58)
        bytes.append(32)
        value.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }

    mutating func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeMutableBytes(body)
    }

    /// The bytes written so far.
    func withBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try bytes.withUnsafeBytes(body)
    }


    public mutating func arrayHead(_ count: Int) { head(4, UInt64(count)) }
    public mutating func mapHead(_ count: Int) { head(5, UInt64(count)) }
    public mutating func bool(_ value: Bool) { bytes.append(value ? 0xf5 : 0xf4) }
    public mutating func null() { bytes.append(0xf6) }

    public mutating func double(_ value: Double) {
        if !value.isFinite { sawNonFinite = true }
        if value.isNaN { bytes.append(contentsOf: [0xf9, 0x7e, 0x00]); return }
        // Single precision is tried first: a value no float holds (most measured values) needs
        // no half-precision attempt. Half precision is converted with integer arithmetic, not
        // `Float16`, which some platforms lack: canonical bytes must be the same everywhere.
        let single = Float(value)
        if Double(single) == value {
            if let half = HalfPrecision.bits(exactly: single) {
                bytes.append(0xf9)
                appendBigEndian(half)
                return
            }
            bytes.append(0xfa)
            appendBigEndian(single.bitPattern)
            return
        }
        bytes.append(0xfb)
        appendBigEndian(value.bitPattern)
    }

    public mutating func value(_ value: EventValue) {
        switch value {
        case .null: null()
        case .bool(let b): bool(b)
        case .int(let i): int(i)
        case .double(let d): double(d)
        case .string(let s): string(s)
        case .bytes(let b): byteString(b)
        case .array where nestingLevel >= EventValue.maximumNestingLevel,
             .map where nestingLevel >= EventValue.maximumNestingLevel:
            sawTooDeep = true
            null()
        case .array(let items):
            arrayHead(items.count)
            nestingLevel += 1
            for item in items { self.value(item) }
            nestingLevel -= 1
        case .map(let fields):
            mapHead(fields.count)
            nestingLevel += 1
            CBORWriter.forEachInCanonicalOrder(fields) { key, field in
                string(key)
                self.value(field)
            }
            nestingLevel -= 1
        }
    }

    /// RFC 8949 4.2.1 orders keys by their encoded bytes; for text keys that is shorter first,
    /// then bytewise.
    public static func canonicalKeyOrder(_ a: String, _ b: String) -> Bool {
        let ua = a.utf8, ub = b.utf8
        if ua.count != ub.count { return ua.count < ub.count }
        // Native strings are contiguous UTF-8: compare the bytes directly.
        if let order = ua.withContiguousStorageIfAvailable({ x in
            ub.withContiguousStorageIfAvailable { y -> Bool in
                for i in 0..<x.count where x[i] != y[i] { return x[i] < y[i] }
                return false
            }
        }), let order { return order }
        return ua.lexicographicallyPrecedes(ub)
    }

    /// The entries of a text-keyed map in canonical key order.
    static func canonicallyOrdered<Value>(_ map: [String: Value]) -> [(key: String, value: Value)] {
        var entries: [(key: String, value: Value)] = []
        entries.reserveCapacity(map.count)
        forEachInCanonicalOrder(map) { entries.append(($0, $1)) }
        return entries
    }

    /// A key's byte length and its first sixteen bytes as two big-endian words (zero-padded):
    /// ordering these orders keys canonically, except between keys longer than 16 bytes that
    /// share their first 16. Native strings are loaded whole, not byte by byte.
    @inline(__always)
    static func sortWords(_ key: String) -> (length: Int, high: UInt64, low: UInt64) {
        if let words = key.utf8.withContiguousStorageIfAvailable({ utf8 -> (Int, UInt64, UInt64) in
            let name = NameWords(UnsafeRawBufferPointer(utf8))
            return (utf8.count, name.first.byteSwapped, name.second.byteSwapped)
        }) { return words }
        var words: (UInt64, UInt64) = (0, 0)
        var length = 0
        for byte in key.utf8 {
            if length < 8 { words.0 |= UInt64(byte) << (56 - 8 * UInt64(length)) }
            else if length < 16 { words.1 |= UInt64(byte) << (56 - 8 * UInt64(length - 8)) }
            length += 1
        }
        return (length, words.0, words.1)
    }

    /// Visits the entries of a text-keyed map in canonical key order. The sort moves plain
    /// words in a stack buffer, not entries: each key's byte length and first sixteen bytes as
    /// two big-endian words, which decide nearly every comparison (a snapshot's 2,000 stream
    /// names sorted by `String` comparisons spent about 260 instructions per comparison, and
    /// building arrays of entries was most of a payload's encoding; callgrind, perf).
    static func forEachInCanonicalOrder<Value, E: Error>(_ map: [String: Value],
                                                       _ body: (String, Value) throws(E) -> Void) throws(E) {
        if map.count <= 1 {
            for (key, value) in map { try body(key, value) }
            return
        }
        typealias SortKey = (length: Int, high: UInt64, low: UInt64, index: Dictionary<String, Value>.Index)
        var failure: E?
        withUnsafeTemporaryAllocation(of: SortKey.self, capacity: map.count) { order in
            var count = 0
            var index = map.startIndex
            while index != map.endIndex {
                let (length, high, low) = sortWords(map[index].key)
                order.initializeElement(at: count, to: (length, high, low, index))
                count += 1
                index = map.index(after: index)
            }
            let keys = UnsafeMutableBufferPointer(rebasing: order[..<count])
            // Keys are distinct, so the sort need not be stable: the standard library's stable
            // merge sort cost about 500 instructions a key on a snapshot's 2,000 stream names.
            introsort(keys) { a, b in
                if a.length != b.length { return a.length < b.length }
                if a.high != b.high { return a.high < b.high }
                if a.low != b.low { return a.low < b.low }
                return a.length > 16 && canonicalKeyOrder(map[a.index].key, map[b.index].key)
            }
            do throws(E) {
                for key in keys {
                    let entry = map[key.index]
                    try body(entry.key, entry.value)
                }
            } catch {
                failure = error
            }
            keys.deinitialize()
        }
        if let failure { throw failure }
    }

    public static func encode(_ value: EventValue) -> [UInt8] {
        var writer = CBORWriter()
        writer.value(value)
        return writer.bytes
    }
}

/// Malformed CBOR: truncated, too deep, of an unsupported kind, or with invalid UTF-8 text.
public struct CBORError: Error, Sendable, CustomStringConvertible {
    public var offset: Int
    public var message: String
    public var description: String { "malformed CBOR at byte \(offset): \(message)" }
}

/// Reads CBOR from a byte buffer without copying it. Every length is checked against the bytes
/// that remain, so corrupt input yields a `CBORError`, never a crash or a huge allocation.
public struct CBORReader {
    let base: UnsafeRawBufferPointer
    public internal(set) var offset: Int
    static let maximumDepth = 64

    public init(_ buffer: UnsafeRawBufferPointer, offset: Int = 0) {
        self.base = buffer
        self.offset = offset
    }

    public var isAtEnd: Bool { offset >= base.count }

    func fail(_ message: String) -> CBORError { CBORError(offset: offset, message: message) }

    @inline(__always)
    mutating func byte() throws(CBORError) -> UInt8 {
        guard offset < base.count else { throw fail("unexpected end of data") }
        defer { offset += 1 }
        return base[offset]
    }

    @inline(__always)
    mutating func bigEndian(_ width: Int) throws(CBORError) -> UInt64 {
        guard offset + width <= base.count else { throw fail("unexpected end of data") }
        var value: UInt64 = 0
        for i in 0..<width { value = value << 8 | UInt64(base[offset + i]) }
        offset += width
        return value
    }

    /// Returns the major type and argument of the next item.
    @inline(__always)
    public mutating func head() throws(CBORError) -> (major: UInt8, argument: UInt64, info: UInt8) {
        let initial = try byte()
        let major = initial >> 5, info = initial & 0x1f
        switch info {
        case 0..<24: return (major, UInt64(info), info)
        case 24: return (major, try bigEndian(1), info)
        case 25: return (major, try bigEndian(2), info)
        case 26: return (major, try bigEndian(4), info)
        case 27: return (major, try bigEndian(8), info)
        default: throw fail("indefinite lengths and reserved values are not used in this log")
        }
    }

    @inline(__always)
    private mutating func length(_ argument: UInt64, unit: Int) throws(CBORError) -> Int {
        let remaining = base.count - offset
        guard argument <= UInt64(remaining / unit) else { throw fail("length \(argument) exceeds the data") }
        return Int(argument)
    }

    public mutating func readInt() throws(CBORError) -> Int64 {
        let (major, argument, _) = try head()
        switch major {
        case 0:
            guard argument <= UInt64(Int64.max) else { throw fail("integer out of range") }
            return Int64(argument)
        case 1:
            guard argument <= UInt64(Int64.max) else { throw fail("integer out of range") }
            return ~Int64(argument)
        default: throw fail("expected an integer")
        }
    }

    public mutating func readUInt() throws(CBORError) -> UInt64 {
        let (major, argument, _) = try head()
        guard major == 0 else { throw fail("expected an unsigned integer") }
        return argument
    }

    public mutating func readString() throws(CBORError) -> String {
        let (major, argument, _) = try head()
        guard major == 3 else { throw fail("expected a text string") }
        return try textBody(argument)
    }

    mutating func textBody(_ argument: UInt64) throws(CBORError) -> String {
        let count = try length(argument, unit: 1)
        let slice = UnsafeRawBufferPointer(rebasing: base[offset..<offset + count])
        // Nearly all text in the log is ASCII, which needs no validation beyond the high bit.
        let text: String
        if slice.allSatisfy({ $0 < 0x80 }) {
            text = String(decoding: slice, as: UTF8.self)
        } else {
            guard let validated = String(validating: slice, as: UTF8.self) else { throw fail("invalid UTF-8 in text") }
            text = validated
        }
        offset += count
        return text
    }

    public mutating func readBytes() throws(CBORError) -> [UInt8] {
        let (major, argument, _) = try head()
        guard major == 2 else { throw fail("expected a byte string") }
        let count = try length(argument, unit: 1)
        defer { offset += count }
        return Array(base[offset..<offset + count])
    }

    public mutating func readMapHead() throws(CBORError) -> Int {
        let (major, argument, _) = try head()
        guard major == 5 else { throw fail("expected a map") }
        return try length(argument, unit: 2)
    }

    public mutating func readArrayHead() throws(CBORError) -> Int {
        let (major, argument, _) = try head()
        guard major == 4 else { throw fail("expected an array") }
        return try length(argument, unit: 1)
    }

    /// Skips one complete item without allocating, returning the byte range it occupied.
    /// Iterative, with a count of items still to skip, so deep nesting costs no stack; it reads
    /// the bytes directly because replays skip every payload they do not need.
    @discardableResult
    public mutating func skipItem(depth: Int = 0) throws(CBORError) -> Range<Int> {
        let start = offset
        guard let bytes = base.baseAddress else { throw fail("unexpected end of data") }
        let end = base.count
        var pending = 1
        while pending > 0 {
            pending -= 1
            guard offset < end else { throw fail("unexpected end of data") }
            let initial = bytes.load(fromByteOffset: offset, as: UInt8.self)
            offset += 1
            let info = initial & 0x1f
            var argument = UInt64(info)
            if info >= 24 {
                guard info <= 27 else { throw fail("indefinite lengths and reserved values are not used in this log") }
                let width = 1 << Int(info - 24)
                guard width <= end - offset else { throw fail("unexpected end of data") }
                argument = 0
                for i in 0..<width { argument = argument << 8 | UInt64(bytes.load(fromByteOffset: offset + i, as: UInt8.self)) }
                offset += width
            }
            switch initial >> 5 {
            case 2, 3:
                guard argument <= UInt64(end - offset) else { throw fail("length \(argument) exceeds the data") }
                offset += Int(argument)
            case 4:
                guard argument <= UInt64(end - offset) else { throw fail("length \(argument) exceeds the data") }
                pending += Int(argument)
            case 5:
                guard argument <= UInt64(end - offset) / 2 else { throw fail("length \(argument) exceeds the data") }
                pending += 2 * Int(argument)
            case 6:
                throw fail("tags are not used in this log")
            default:
                break
            }
        }
        return start..<offset
    }

    public mutating func readValue(depth: Int = 0) throws(CBORError) -> EventValue {
        try readValue(depth: depth, interner: nil)
    }

    /// A value, with map keys (the few field names a log's payloads repeat) through `interner`
    /// when one is given. Values are not: unique ones would evict the names a scan reuses.
    mutating func readValue(depth: Int, interner: StringInterner?) throws(CBORError) -> EventValue {
        guard depth < CBORReader.maximumDepth else { throw fail("nesting deeper than \(CBORReader.maximumDepth)") }
        let (major, argument, info) = try head()
        switch major {
        case 0:
            guard argument <= UInt64(Int64.max) else { throw fail("integer out of range") }
            return .int(Int64(argument))
        case 1:
            guard argument <= UInt64(Int64.max) else { throw fail("integer out of range") }
            return .int(~Int64(argument))
        case 2:
            let count = try length(argument, unit: 1)
            defer { offset += count }
            return .bytes(Array(base[offset..<offset + count]))
        case 3:
            return .string(try textBody(argument))
        case 4:
            let count = try length(argument, unit: 1)
            var items: [EventValue] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readValue(depth: depth + 1, interner: interner)) }
            return .array(items)
        case 5:
            let count = try length(argument, unit: 2)
            // Sized at creation: `reserveCapacity` on an empty map ran unspecialised, looking
            // up generic metadata for every payload (perf, full-event scans).
            var fields = [String: EventValue](minimumCapacity: count)
            for _ in 0..<count {
                let key = try readString(interner: interner)
                fields[key] = try readValue(depth: depth + 1, interner: interner)
            }
            return .map(fields)
        case 7:
            switch info {
            case 20: return .bool(false)
            case 21: return .bool(true)
            case 22: return .null
            case 25: return .double(HalfPrecision.value(bits: UInt16(truncatingIfNeeded: argument)))
            case 26: return .double(Double(Float(bitPattern: UInt32(argument))))
            case 27: return .double(Double(bitPattern: argument))
            default: throw fail("unsupported simple value \(info)")
            }
        default:
            throw fail("tags are not used in this log")
        }
    }

    public static func decode(_ bytes: [UInt8]) throws(CBORError) -> EventValue {
        do {
            return try bytes.withUnsafeBytes { buffer in
                var reader = CBORReader(buffer)
                let value = try reader.readValue()
                guard reader.isAtEnd else { throw reader.fail("trailing bytes") }
                return value
            }
        } catch let error as CBORError {
            throw error
        } catch {
            throw CBORError(offset: 0, message: "\(error)")
        }
    }
}

/// Sorts `buffer` in place by `less`, not stably: quicksort on the median of three, insertion
/// sort below 16 elements, and heapsort past a depth of 2 log2(n), so that no order of map keys
/// a file can hold makes a sort quadratic.
/// (`depthLimit` is for tests: 0 sorts by heapsort alone.)
@inline(__always)
func introsort<T>(_ buffer: UnsafeMutableBufferPointer<T>, depthLimit: Int? = nil, by less: (T, T) -> Bool) {
    guard buffer.count > 1 else { return }
    let depth = depthLimit ?? 2 * (Int.bitWidth - buffer.count.leadingZeroBitCount)
    introsort(buffer, 0, buffer.count, depth: depth, less)
}

private func introsort<T>(_ b: UnsafeMutableBufferPointer<T>, _ low: Int, _ high: Int, depth: Int,
                          _ less: (T, T) -> Bool) {
    var low = low, high = high, depth = depth
    while high - low > 16 {
        if depth == 0 {
            heapsort(b, low, high, less)
            return
        }
        depth -= 1
        let mid = low + (high - low) / 2
        // The median of the first, middle and last elements goes to `low` as the pivot.
        if less(b[mid], b[low]) { b.swapAt(mid, low) }
        if less(b[high - 1], b[low]) { b.swapAt(high - 1, low) }
        if less(b[high - 1], b[mid]) { b.swapAt(high - 1, mid) }
        b.swapAt(low, mid)
        var i = low + 1, j = high - 1
        while true {
            while i <= j && less(b[i], b[low]) { i += 1 }
            while i <= j && less(b[low], b[j]) { j -= 1 }
            if i >= j { break }
            b.swapAt(i, j)
            i += 1
            j -= 1
        }
        b.swapAt(low, j)
        // Recurse into the smaller side, loop on the larger: the stack stays logarithmic.
        if j - low < high - (j + 1) {
            introsort(b, low, j, depth: depth, less)
            low = j + 1
        } else {
            introsort(b, j + 1, high, depth: depth, less)
            high = j
        }
    }
    for i in (low + 1)..<max(low + 1, high) {
        var k = i
        while k > low && less(b[k], b[k - 1]) {
            b.swapAt(k, k - 1)
            k -= 1
        }
    }
}

private func heapsort<T>(_ b: UnsafeMutableBufferPointer<T>, _ low: Int, _ high: Int, _ less: (T, T) -> Bool) {
    let count = high - low
    func siftDown(_ start: Int, _ end: Int) {
        var root = start
        while 2 * root + 1 < end {
            var child = 2 * root + 1
            if child + 1 < end && less(b[low + child], b[low + child + 1]) { child += 1 }
            guard less(b[low + root], b[low + child]) else { return }
            b.swapAt(low + root, low + child)
            root = child
        }
    }
    for start in stride(from: count / 2 - 1, through: 0, by: -1) { siftDown(start, count) }
    for end in stride(from: count - 1, to: 0, by: -1) {
        b.swapAt(low, low + end)
        siftDown(0, end)
    }
}
