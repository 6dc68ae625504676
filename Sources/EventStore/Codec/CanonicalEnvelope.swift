/// Reads an envelope laid out as this store writes it (format 2, keys in canonical order)
/// straight through, with no key lookup and no error values: the path of nearly every record a replay reads. Anything else, including every
/// fault, gives nil, and the general reader (`Record.view`) reads the record again and says
/// precisely what is wrong. What this accepts, the general reader accepts too, with the same
/// result.
struct CanonicalEnvelope {
    private let base: UnsafeRawPointer
    private let end: Int
    private var offset: Int

    /// Encoded envelope keys, in the order the writer puts them. Literal words, so that they
    /// are static data: computed ones would cost a lazy-initialisation check per use (the test
    /// `envelopeKeyWords` checks each against `EncodedKey(name)`).
    enum Keys {
        static let id = EncodedKey(length: 3, low: 0x646962, lowMask: 0xffffff, high: 0x0, highMask: 0x0)
        static let hlc = EncodedKey(length: 4, low: 0x636c6863, lowMask: 0xffffffff, high: 0x0, highMask: 0x0)
        static let wall = EncodedKey(length: 5, low: 0x6c6c617764, lowMask: 0xffffffffff, high: 0x0, highMask: 0x0)
        static let logical = EncodedKey(length: 8, low: 0x6c616369676f6c67, lowMask: 0xffffffffffffffff, high: 0x0, highMask: 0x0)
        static let seq = EncodedKey(length: 4, low: 0x71657363, lowMask: 0xffffffff, high: 0x0, highMask: 0x0)
        static let data = EncodedKey(length: 5, low: 0x6174616464, lowMask: 0xffffffffff, high: 0x0, highMask: 0x0)
        static let node = EncodedKey(length: 5, low: 0x65646f6e64, lowMask: 0xffffffffff, high: 0x0, highMask: 0x0)
        static let prev = EncodedKey(length: 5, low: 0x7665727064, lowMask: 0xffffffffff, high: 0x0, highMask: 0x0)
        static let tags = EncodedKey(length: 5, low: 0x7367617464, lowMask: 0xffffffffff, high: 0x0, highMask: 0x0)
        static let time = EncodedKey(length: 5, low: 0x656d697464, lowMask: 0xffffffffff, high: 0x0, highMask: 0x0)
        static let type = EncodedKey(length: 5, low: 0x6570797464, lowMask: 0xffffffffff, high: 0x0, highMask: 0x0)
        static let stream = EncodedKey(length: 7, low: 0x6d616572747366, lowMask: 0xffffffffffffff, high: 0x0, highMask: 0x0)
        static let version = EncodedKey(length: 8, low: 0x6e6f697372657667, lowMask: 0xffffffffffffffff, high: 0x0, highMask: 0x0)
        static let causation = EncodedKey(length: 10, low: 0x6974617375616369, lowMask: 0xffffffffffffffff, high: 0x6e6f, highMask: 0xffff)
        static let correlation = EncodedKey(length: 12, low: 0x616c6572726f636b, lowMask: 0xffffffffffffffff, high: 0x6e6f6974, highMask: 0xffffffff)
        static let all: [(name: StaticString, key: EncodedKey)] = [
            ("id", id), ("hlc", hlc), ("wall", wall), ("logical", logical), ("seq", seq), ("data", data),
            ("node", node), ("prev", prev), ("tags", tags), ("time", time), ("type", type), ("stream", stream),
            ("version", version), ("causation", causation), ("correlation", correlation),
        ]
    }

    /// Reads the view of `record` (whose envelope starts at `offset`, after a format-2 header
    /// holding `payloadLength`) into `destination`, uninitialised memory. False, and nothing
    /// written, when the record is not laid out canonically or is faulty in any way.
    ///
    /// Written in place, because a view is about 170 bytes: returned through an optional and
    /// the layers above, it was copied five times per record, by `memcpy`.
    static func read(_ record: UnsafeRawBufferPointer, offset: Int, payloadLength: Int, expectedSeq: UInt64,
                     into destination: UnsafeMutablePointer<RecordView>) -> Bool {
        guard let base = record.baseAddress else { return false }
        var r = CanonicalEnvelope(base: base, end: record.count, offset: offset)
        return r.read(payloadLength: payloadLength, expectedSeq: expectedSeq, into: destination)
    }

    // Inlined into `read`, so that the reader is a local whose offset lives in a register.
    @inline(__always)
    private mutating func read(payloadLength: Int, expectedSeq: UInt64, into destination: UnsafeMutablePointer<RecordView>) -> Bool {
        guard let fields = argument(major: 5), fields >= 10, fields <= 13 else { return false }
        guard key(Keys.id) else { return false }
        let idOffset = offset
        guard skipText(), key(Keys.hlc), argument(major: 5) == 2, key(Keys.wall), let wall = int(),
              key(Keys.logical), let logical = argument(major: 0), logical <= UInt64(UInt32.max),
              key(Keys.seq), argument(major: 0) == expectedSeq, key(Keys.data) else { return false }
        let dataStart = offset
        guard payloadLength <= end - offset else { return false }
        offset += payloadLength
        guard key(Keys.node), let node = text(), key(Keys.prev), argument(major: 2) == 32, end - offset >= 32 else { return false }
        let prevOffset = offset
        offset += 32
        var optional = Int(fields) - 10
        var tagsOffset = -1
        if optional > 0, key(Keys.tags) {
            tagsOffset = offset
            // Tags are a map of text to text; anything else is the general reader's to judge.
            guard let pairs = argument(major: 5), pairs <= UInt64(end - offset) else { return false }
            for _ in 0..<2 * Int(pairs) { guard skipText() else { return false } }
            optional -= 1
        }
        guard key(Keys.time), let time = int(), key(Keys.type), let type = text(), key(Keys.stream),
              let stream = text(), key(Keys.version), let version = argument(major: 0) else { return false }
        var causationOffset = -1, correlationOffset = -1
        if optional > 0, key(Keys.causation) {
            causationOffset = offset
            guard skipText() else { return false }
            optional -= 1
        }
        if optional > 0, key(Keys.correlation) {
            correlationOffset = offset
            guard skipText() else { return false }
            optional -= 1
        }
        guard optional == 0, offset == end else { return false }
        destination.initialize(to: RecordView(seq: expectedSeq, version: version, time: Timestamp(nanoseconds: time),
                                              hlc: HLC(wall: wall, logical: UInt32(logical)), node: node, stream: stream,
                                              type: type, start: base, count: end, idOffset: idOffset,
                                              prevOffset: prevOffset, dataRange: dataStart..<dataStart + payloadLength,
                                              tagsOffset: tagsOffset, causationOffset: causationOffset,
                                              correlationOffset: correlationOffset))
        return true
    }

    /// The argument of the next head if its major type is `major`.
    @inline(__always)
    private mutating func argument(major: UInt8) -> UInt64? {
        guard offset < end else { return nil }
        let initial = base.load(fromByteOffset: offset, as: UInt8.self)
        guard initial >> 5 == major else { return nil }
        let info = initial & 0x1f
        offset += 1
        if info < 24 { return UInt64(info) }
        guard info <= 27 else { return nil }
        let width = 1 << Int(info - 24)
        guard width <= end - offset else { return nil }
        let value: UInt64
        switch width {
        case 1: value = UInt64(base.load(fromByteOffset: offset, as: UInt8.self))
        case 2: value = UInt64(UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
        case 4: value = UInt64(UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        default: value = UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
        }
        offset += width
        return value
    }

    @inline(__always)
    private mutating func int() -> Int64? {
        guard offset < end else { return nil }
        let negative = base.load(fromByteOffset: offset, as: UInt8.self) >> 5 == 1
        guard let value = argument(major: negative ? 1 : 0), value <= UInt64(Int64.max) else { return nil }
        return negative ? ~Int64(value) : Int64(value)
    }

    @inline(__always)
    private mutating func text() -> TextView? {
        guard let length = argument(major: 3), length <= UInt64(end - offset) else { return nil }
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: Int(length))
        guard bytes.isASCII || String(validating: bytes, as: UTF8.self) != nil else { return nil }
        offset += bytes.count
        return TextView(bytes: bytes)
    }

    @inline(__always)
    private mutating func skipText() -> Bool {
        guard let length = argument(major: 3), length <= UInt64(end - offset) else { return false }
        offset += Int(length)
        return true
    }

    /// Consumes `key` if the next bytes are exactly it, compared as one or two masked words
    /// (one for keys of up to eight bytes: all but `causation` and `correlation`).
    @inline(__always)
    private mutating func key(_ key: EncodedKey) -> Bool {
        let words = key.highMask == 0 ? 8 : 16
        guard end - offset >= words else { return keyNearEnd(key) }
        guard UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) & key.lowMask == key.low,
              key.highMask == 0 || UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self)) & key.highMask == key.high
        else { return false }
        offset += key.length
        return true
    }

    /// The same comparison among the last bytes of a record, copying what is left instead of
    /// loading past the end.
    private mutating func keyNearEnd(_ key: EncodedKey) -> Bool {
        var words: (UInt64, UInt64) = (0, 0)
        withUnsafeMutableBytes(of: &words) { $0.copyMemory(from: UnsafeRawBufferPointer(start: base + offset, count: min(16, end - offset))) }
        guard UInt64(littleEndian: words.0) & key.lowMask == key.low,
              UInt64(littleEndian: words.1) & key.highMask == key.high else { return false }
        offset += key.length
        return true
    }
}
