#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Text inside a stored record, read where it lies: no copy, no allocation. It is valid UTF-8
/// (checked when its record was read) and valid only as long as its `RecordView`.
public struct TextView {
    /// The UTF-8 bytes.
    public let bytes: UnsafeRawBufferPointer

    /// A copy of the text as a `String`.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Whether the text is exactly `other`, compared byte for byte without building a `String`.
    public func matches(_ other: String) -> Bool {
        var other = other
        return other.withUTF8 { utf8 in
            guard utf8.count == bytes.count else { return false }
            guard let a = utf8.baseAddress, let b = bytes.baseAddress else { return true }
            return memcmp(a, b, utf8.count) == 0
        }
    }
}

/// The envelope of one stored record, read in place from the store's memory map: what a replay
/// needs that counts, groups or routes by name without building an `Event` (and its strings)
/// per record. Handed out in runs by `EventStore.scanRecords` and `scanRecordsInParallel`;
/// valid only during the call it is handed to.
///
/// Reading a view checks the whole envelope's structure and the UTF-8 of `node`, `stream` and
/// `type`, exactly as decoding an `Event` with `EventFields.envelope` does; `event()` builds
/// that `Event`.
public struct RecordView {
    public let seq: UInt64
    /// Position within the stream.
    public let version: UInt64
    public let time: Timestamp
    public let hlc: HLC
    public let node: TextView
    public let stream: TextView
    public let type: TextView
    let start: UnsafeRawPointer
    let count: Int
    // Where the parts a view does not decode lie in the record (-1: absent).
    let idOffset: Int
    let prevOffset: Int
    let dataRange: Range<Int>
    let tagsOffset: Int
    let causationOffset: Int
    let correlationOffset: Int

    /// The hash the record claims (`verify` is what recomputes it).
    public var hash: Digest { Digest(raw: start + 1) }
    /// The previous record's hash, as this record holds it.
    public var prev: Digest { Digest(raw: start + prevOffset) }

    /// The event with only the envelope fields (`EventFields.envelope`): what a projection that
    /// reads no payload, tags or links would receive.
    public func event() -> Event {
        Event(seq: seq, id: "", time: time, hlc: hlc, node: node.string, stream: stream.string, version: version,
              type: type.string, tags: [:], data: .map([:]), causation: nil, correlation: nil, prev: prev, hash: hash)
    }
}

/// A run of consecutive records read in place (see `EventStore.scanRecords`): valid only
/// during the call it is handed to. A slice of a run is a run.
public struct RecordRun: RandomAccessCollection {
    let base: UnsafePointer<RecordView>
    public let startIndex: Int
    public let endIndex: Int

    init(base: UnsafePointer<RecordView>, bounds: Range<Int>) {
        self.base = base
        startIndex = bounds.lowerBound
        endIndex = bounds.upperBound
    }

    public subscript(position: Int) -> RecordView {
        precondition(position >= startIndex && position < endIndex, "index out of the run")
        return base[position]
    }

    public subscript(bounds: Range<Int>) -> RecordRun {
        precondition(bounds.lowerBound >= startIndex && bounds.upperBound <= endIndex, "range out of the run")
        return RecordRun(base: base, bounds: bounds)
    }
}

extension Record {
    /// Reads the envelope of a stored record in place: straight through when it is laid out as
    /// this store writes it (`CanonicalEnvelope`), else key by key. Every structural fault
    /// (wrong version, truncation, a missing or mistyped field, invalid UTF-8 in a name, a seq
    /// that disagrees with the key it is stored under) is a typed error naming the position.
    /// `straightThrough: false` skips the first reader, for tests that compare the two.
    static func view(_ record: UnsafeRawBufferPointer, expectedSeq: UInt64,
                     straightThrough: Bool = true) throws(StoreError) -> RecordView {
        try withUnsafeTemporaryAllocation(of: RecordView.self, capacity: 1) { (slot) throws(StoreError) -> RecordView in
            guard let destination = slot.baseAddress else { throw .corrupt(seq: expectedSeq, "no memory for a view") }
            try initializeView(at: destination, record, expectedSeq: expectedSeq, straightThrough: straightThrough)
            return destination.move()
        }
    }

    /// `view`, written into `destination` (uninitialised memory; initialised unless this
    /// throws): what runs of views are built with, so that a view is not copied on its way.
    static func initializeView(at destination: UnsafeMutablePointer<RecordView>, _ record: UnsafeRawBufferPointer,
                               expectedSeq: UInt64, straightThrough: Bool = true) throws(StoreError) {
        guard let formatVersion = record.first, let size = headerSize(formatVersion) else {
            throw .corrupt(seq: expectedSeq, "unknown record format version \(record.first ?? 0)")
        }
        guard record.count > size, let start = record.baseAddress else {
            throw .corrupt(seq: expectedSeq, "record is \(record.count) bytes, shorter than its header")
        }
        let payloadLength = formatVersion >= 2 ? Int(UInt32(bigEndian: start.loadUnaligned(fromByteOffset: 33, as: UInt32.self))) : nil
        if straightThrough, let payloadLength,
           CanonicalEnvelope.read(record, offset: size, payloadLength: payloadLength, expectedSeq: expectedSeq, into: destination) {
            return
        }
        destination.initialize(to: try corruptOnFailure(seq: expectedSeq) {
            var r = CBORReader(record, offset: size)
            return try readEnvelope(&r, start: start, expectedSeq: expectedSeq, payloadLength: payloadLength)
        })
    }

    /// Runs `read`, turning any failure into `StoreError.corrupt` at `seq` (a `StoreError`
    /// passes as it is).
    static func corruptOnFailure<T>(seq: UInt64, _ read: () throws -> T) throws(StoreError) -> T {
        do {
            return try read()
        } catch let error as CBORError {
            throw .corrupt(seq: seq, error.description)
        } catch let error as StoreError {
            throw error
        } catch {
            throw .corrupt(seq: seq, "\(error)")
        }
    }

    private static func readEnvelope(_ r: inout CBORReader, start: UnsafeRawPointer, expectedSeq: UInt64,
                                     payloadLength: Int?) throws -> RecordView {
        var seq: UInt64?, version: UInt64?, time: Int64?, hlc: HLC?
        var node: TextView?, stream: TextView?, type: TextView?
        var idOffset = -1, prevOffset = -1, dataRange: Range<Int>?, tagsOffset = -1
        var causationOffset = -1, correlationOffset = -1
        let count = try r.readMapHead()
        for _ in 0..<count {
            let key = try r.readEnvelopeKey()
            switch key {
            case .id:
                idOffset = r.offset
                try r.skipText()
            case .hlc: hlc = try decodeClock(&r, expectedSeq: expectedSeq)
            case .seq: seq = try r.readUInt()
            case .data:
                let dataStart = r.offset
                if let payloadLength {
                    // Format 2: jump over the payload; a wrong length shows up as malformed
                    // fields after it (and as a failed verify).
                    guard payloadLength <= r.base.count - r.offset else {
                        throw StoreError.corrupt(seq: expectedSeq, "the header's payload length \(payloadLength) exceeds the record")
                    }
                    r.offset += payloadLength
                } else {
                    try r.skipItem()
                }
                dataRange = dataStart..<r.offset
            case .node: node = try r.readTextView()
            case .prev:
                guard try r.readDigest() != nil else { throw StoreError.corrupt(seq: expectedSeq, "prev is not 32 bytes") }
                prevOffset = r.offset - 32
            case .tags:
                tagsOffset = r.offset
                try r.skipItem()
            case .time: time = try r.readInt()
            case .type: type = try r.readTextView()
            case .stream: stream = try r.readTextView()
            case .version: version = try r.readUInt()
            case .causation:
                causationOffset = r.offset
                try r.skipText()
            case .correlation:
                correlationOffset = r.offset
                try r.skipText()
            case .wall, .logical, .unknown: try r.skipItem()
            }
        }
        guard r.isAtEnd else { throw StoreError.corrupt(seq: expectedSeq, "trailing bytes after the envelope") }
        guard let seq, let version, let node, let stream, let type, let time, let hlc, let dataRange,
              idOffset >= 0, prevOffset >= 0 else {
            throw StoreError.corrupt(seq: expectedSeq, "envelope lacks a required field")
        }
        guard seq == expectedSeq else { throw StoreError.corrupt(seq: expectedSeq, "record claims seq \(seq)") }
        return RecordView(seq: seq, version: version, time: Timestamp(nanoseconds: time), hlc: hlc, node: node,
                          stream: stream, type: type, start: start, count: r.base.count, idOffset: idOffset,
                          prevOffset: prevOffset, dataRange: dataRange, tagsOffset: tagsOffset,
                          causationOffset: causationOffset, correlationOffset: correlationOffset)
    }

    private static func decodeClock(_ r: inout CBORReader, expectedSeq: UInt64) throws -> HLC {
        var wall: Int64?, logical: UInt64?
        for _ in 0..<(try r.readMapHead()) {
            switch try r.readEnvelopeKey() {
            case .wall: wall = try r.readInt()
            case .logical: logical = try r.readUInt()
            default: _ = try r.skipItem()
            }
        }
        guard let wall, let logical, logical <= UInt64(UInt32.max) else {
            throw StoreError.corrupt(seq: expectedSeq, "malformed hlc")
        }
        return HLC(wall: wall, logical: UInt32(logical))
    }
}

extension CBORReader {
    /// A text string read in place, its UTF-8 checked (ASCII, nearly all of the log's names,
    /// is checked a word at a time).
    @inline(__always)
    mutating func readTextView() throws(CBORError) -> TextView {
        let (major, argument, _) = try head()
        guard major == 3 else { throw fail("expected a text string") }
        guard argument <= UInt64(base.count - offset) else { throw fail("length \(argument) exceeds the data") }
        let body = UnsafeRawBufferPointer(rebasing: base[offset..<offset + Int(argument)])
        guard body.isASCII || String(validating: body, as: UTF8.self) != nil else { throw fail("invalid UTF-8 in text") }
        offset += body.count
        return TextView(bytes: body)
    }
}

extension UnsafeRawBufferPointer {
    /// Whether every byte is below 0x80, tested a word at a time; the last, partial word is
    /// loaded overlapping the one before it (its shared bytes are tested twice, harmlessly),
    /// and a short text as two overlapping halves, so no byte outside the buffer is read.
    /// (A byte loop for the tail cost about 40 instructions per name read in place.)
    @inline(__always)
    var isASCII: Bool {
        guard let base = baseAddress else { return true }
        @inline(__always) func word(_ offset: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: offset, as: UInt64.self) }
        @inline(__always) func half(_ offset: Int) -> UInt64 { UInt64(base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
        let high: UInt64
        switch count {
        case 8...:
            var bits = word(count - 8)
            var index = 0
            while index + 8 < count {
                bits |= word(index)
                index += 8
            }
            high = bits
        case 4...7:
            high = half(0) | half(count - 4)
        case 1...3:
            high = UInt64(base.load(as: UInt8.self)) | UInt64(base.load(fromByteOffset: count / 2, as: UInt8.self))
                | UInt64(base.load(fromByteOffset: count - 1, as: UInt8.self))
        default:
            high = 0
        }
        return high & 0x8080_8080_8080_8080 == 0
    }
}

/// Entry points for the fuzz targets (`Fuzz/`): the record readers over arbitrary bytes.
/// Not API: `@_spi(Fuzzing) import EventStore` to use them.
@_spi(Fuzzing) public enum RecordReaders {
    /// Decodes `bytes` as the record stored at `seq`, all fields; `straightThrough: false`
    /// reads the envelope key by key even when it is laid out as this store writes it.
    public static func decode(_ bytes: [UInt8], seq: UInt64, straightThrough: Bool) -> Result<Event, StoreError> {
        bytes.withUnsafeBytes { buffer in
            Result { () throws(StoreError) -> Event in
                let view = try Record.view(buffer, expectedSeq: seq, straightThrough: straightThrough)
                return try Record.decode(view, fields: .all)
            }
        }
    }

    /// The stored bytes of `event` as this store writes them (the newest record format), with
    /// its hash recomputed from `prev`.
    public static func encode(_ event: Event) throws(StoreError) -> [UInt8] {
        let parts = Record.Parts(seq: event.seq, id: .text(event.id), time: event.time, hlc: event.hlc, node: event.node,
                                 version: event.version, prev: event.prev,
                                 appender: AppenderParts(data: event.data, tags: event.tags, type: event.type, stream: event.stream,
                                                         causation: event.causation, correlation: event.correlation))
        var writer = CBORWriter(capacity: 256)
        _ = Record.encode(parts, hasher: try SHA256Hasher(), into: &writer)
        return writer.bytes
    }
}
