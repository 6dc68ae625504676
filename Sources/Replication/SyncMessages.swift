import EventStore

/// "Send me what I lack": the requester's version vector.
public struct SyncRequest: Sendable, Hashable {
    public var replica: String
    public var vector: VersionVector

    public init(replica: String, vector: VersionVector) {
        self.replica = replica
        self.vector = vector
    }
}

/// The operations a requester lacks (one bounded page of them), with the sender's vector and
/// what the sender knows each member acknowledged.
public struct SyncResponse: Sendable, Hashable {
    public var replica: String
    public var vector: VersionVector
    public var acknowledged: [String: VersionVector]
    /// In the sender's log order, a causal order.
    public var operations: [ReplicatedOperation]
    /// More operations were left for the next page.
    public var more: Bool

    public init(replica: String, vector: VersionVector, acknowledged: [String: VersionVector] = [:],
                operations: [ReplicatedOperation], more: Bool = false) {
        self.replica = replica
        self.vector = vector
        self.acknowledged = acknowledged
        self.operations = operations
        self.more = more
    }

    /// Checks what the message claims against itself, before any of it is applied: each
    /// operation well formed and within what the sender's vector says it has (a dot beyond it
    /// is forged), and every payload one the log would accept.
    public func validated() throws(ReplicationError) -> SyncResponse {
        guard ReplicaID.isValid(replica) else { throw .badMessage("sender '\(replica)' is not a replica id") }
        guard operations.count <= SyncLimits.maximumOperations else {
            throw .badMessage("\(operations.count) operations; at most \(SyncLimits.maximumOperations) per message")
        }
        guard acknowledged.count <= ReplicatedOperation.maximumReplicas else { throw .badMessage("too many acknowledgements") }
        for replica in acknowledged.keys where !ReplicaID.isValid(replica) { throw .badMessage("'\(replica)' is not a replica id") }
        for (index, op) in operations.enumerated() {
            do { _ = try op.checked() } catch { throw .badMessage("operation \(index + 1): \(error)") }
            guard vector.contains(op.dot) else {
                throw .badMessage("operation \(index + 1): dot \(op.dot) lies beyond the sender's vector \(vector)")
            }
        }
        // What the log refuses in a value (nesting too deep, a non-finite number) can only lie
        // in a container or a double; the rest was checked field by field above.
        let containers = operations.filter { op in
            switch op.value {
            case .array?, .map?: return true
            case .double(let d)?: return !d.isFinite
            default: return false
            }
        }
        do { try EventStore.validate(containers.map(\.newEvent), vocabularies: []) } catch {
            throw .badMessage("\(error)")
        }
        return self
    }
}

/// Bounds on messages from outside.
public enum SyncLimits {
    /// A message larger than this is refused before it is read.
    public static let maximumMessageBytes = 64 << 20
    /// Operations per message (responses are cut into pages well below it).
    public static let maximumOperations = 100_000
    /// The default page: operations per response.
    public static let pageOperations = 10_000
}

/// The binary encoding: the magic `RSYN`, a format version byte, a kind byte (1 request,
/// 2 response), then one CBOR array. Operations are compact: names through a string table,
/// clocks as deltas from the previous operation, each dependency vector as its changes from
/// the previous operation of the same origin.
public enum SyncCoding {
    public static let magic: [UInt8] = Array("RSYN".utf8)
    public static let version: UInt8 = 1
    static let requestKind: UInt8 = 1
    static let responseKind: UInt8 = 2

    public static func encode(_ request: SyncRequest) -> [UInt8] {
        var w = CBORWriter()
        w.arrayHead(2)
        w.string(request.replica)
        writeVector(request.vector, to: &w)
        return magic + [version, requestKind] + w.bytes
    }

    public static func encode(_ response: SyncResponse) -> [UInt8] {
        var table = StringTable()
        var ops = CBORWriter(capacity: response.operations.count * 24)
        ops.arrayHead(response.operations.count)
        var previous = (wall: Int64(0), deps: [String: VersionVector]())
        for op in response.operations {
            let items = 10 + (op.kind == .delete || op.kind == .decommission ? 0 : 1)
            ops.arrayHead(items)
            ops.uint(UInt64(OperationKind.allCases.firstIndex(of: op.kind) ?? 0))
            ops.uint(table.index(op.dot.replica))
            ops.uint(op.dot.counter)
            // Dependencies: the changes from the previous operation of this origin.
            let before = previous.deps[op.dot.replica] ?? VersionVector()
            let changed = op.deps.counters.filter { $0.key != op.dot.replica && before[$0.key] != $0.value }
            let dropped = before.counters.keys.filter { $0 != op.dot.replica && op.deps[$0] == 0 }
            ops.arrayHead((changed.count + dropped.count) * 2)
            for (replica, count) in changed.sorted(by: { $0.key < $1.key }) {
                ops.uint(table.index(replica))
                ops.uint(count)
            }
            for replica in dropped.sorted() {
                ops.uint(table.index(replica))
                ops.uint(0)
            }
            previous.deps[op.dot.replica] = op.deps
            ops.int(op.hlc.wall &- previous.wall)
            previous.wall = op.hlc.wall
            ops.uint(UInt64(op.hlc.logical))
            ops.int(op.time.nanoseconds &- op.hlc.wall &* 1_000)
            ops.uint(table.index(op.node))
            // map, key, strategy (membership: the member as key, no map)
            ops.arrayHead(3)
            ops.uint(table.index(op.map))
            ops.string(op.key)
            ops.uint(op.strategy.flatMap { Strategy.allCases.firstIndex(of: $0) }.map { UInt64($0) + 1 } ?? 0)
            if op.kind == .resolve {
                ops.arrayHead(op.resolves.count * 2)
                for dot in op.resolves {
                    ops.uint(table.index(dot.replica))
                    ops.uint(dot.counter)
                }
            } else {
                ops.arrayHead(0)
            }
            if items == 11 { ops.value(op.value ?? .null) }
        }
        var w = CBORWriter(capacity: ops.bytes.count + 256)
        w.arrayHead(6)
        w.string(response.replica)
        writeVector(response.vector, to: &w)
        w.mapHead(response.acknowledged.count)
        for (replica, vector) in response.acknowledged.sorted(by: { $0.key < $1.key }) {
            w.string(replica)
            writeVector(vector, to: &w)
        }
        w.bool(response.more)
        w.arrayHead(table.strings.count)
        for string in table.strings { w.string(string) }
        return magic + [version, responseKind] + w.bytes + ops.bytes
    }

    /// Reads a request; any defect is a typed error.
    public static func decodeRequest(_ bytes: [UInt8]) throws(ReplicationError) -> SyncRequest {
        try read(bytes, kind: requestKind) { r throws(ReplicationError) in
            guard try cbor({ try r.readArrayHead() }) == 2 else { throw .badMessage("a request is [replica, vector]") }
            let replica = try cbor { try r.readString() }
            guard ReplicaID.isValid(replica) else { throw .badMessage("'\(replica)' is not a replica id") }
            return SyncRequest(replica: replica, vector: try readVector(&r))
        }
    }

    /// Reads a response and checks it (`SyncResponse.validated`); any defect is a typed error.
    public static func decodeResponse(_ bytes: [UInt8]) throws(ReplicationError) -> SyncResponse {
        let response = try read(bytes, kind: responseKind) { r throws(ReplicationError) in
            guard try cbor({ try r.readArrayHead() }) == 6 else { throw .badMessage("a response header has 6 items") }
            let replica = try cbor { try r.readString() }
            let vector = try readVector(&r)
            let ackCount = try cbor { try r.readMapHead() }
            guard ackCount <= ReplicatedOperation.maximumReplicas else { throw .badMessage("too many acknowledgements") }
            var acknowledged: [String: VersionVector] = [:]
            for _ in 0..<ackCount {
                let member = try cbor { try r.readString() }
                acknowledged[member] = try readVector(&r)
            }
            guard case .bool(let more) = try cbor({ try r.readValue() }) else { throw .badMessage("'more' must be a boolean") }
            let tableCount = try cbor { try r.readArrayHead() }
            guard tableCount <= bytes.count else { throw .badMessage("string table longer than the message") }
            var strings: [String] = []
            for _ in 0..<tableCount { strings.append(try cbor { try r.readString() }) }
            func string(_ index: UInt64) throws(ReplicationError) -> String {
                guard index < UInt64(strings.count) else { throw .badMessage("string index \(index) beyond the table") }
                return strings[Int(index)]
            }
            let opCount = try cbor { try r.readArrayHead() }
            guard opCount <= SyncLimits.maximumOperations else { throw .badMessage("\(opCount) operations; at most \(SyncLimits.maximumOperations)") }
            var operations: [ReplicatedOperation] = []
            var previous = (wall: Int64(0), deps: [String: VersionVector]())
            for index in 0..<opCount {
                let items = try cbor { try r.readArrayHead() }
                guard items == 10 || items == 11 else { throw .badMessage("operation \(index + 1) has \(items) items") }
                let kindIndex = try cbor { try r.readUInt() }
                guard kindIndex < UInt64(OperationKind.allCases.count) else { throw .badMessage("operation \(index + 1): unknown kind") }
                let kind = OperationKind.allCases[Int(kindIndex)]
                guard items == (kind == .delete || kind == .decommission ? 10 : 11) else {
                    throw .badMessage("operation \(index + 1): \(items) items for a \(kind.rawValue)")
                }
                let origin = try string(try cbor { try r.readUInt() })
                let counter = try cbor { try r.readUInt() }
                guard counter >= 1, counter <= UInt64(Int64.max) else { throw .badMessage("operation \(index + 1): counter out of range") }
                var deps = previous.deps[origin] ?? VersionVector()
                let depItems = try cbor { try r.readArrayHead() }
                guard depItems % 2 == 0, depItems / 2 <= ReplicatedOperation.maximumReplicas else {
                    throw .badMessage("operation \(index + 1): malformed dependencies")
                }
                for _ in 0..<(depItems / 2) {
                    let replica = try string(try cbor { try r.readUInt() })
                    deps[replica] = try cbor { try r.readUInt() }
                }
                deps[origin] = counter - 1
                previous.deps[origin] = deps
                let (wall, overflow) = previous.wall.addingReportingOverflow(try cbor { try r.readInt() })
                guard !overflow, wall >= 0 else { throw .badMessage("operation \(index + 1): clock out of range") }
                previous.wall = wall
                let logical = try cbor { try r.readUInt() }
                guard logical <= UInt64(UInt32.max) else { throw .badMessage("operation \(index + 1): logical clock out of range") }
                let (scaled, scaleOverflow) = wall.multipliedReportingOverflow(by: 1_000)
                let (nanoseconds, timeOverflow) = scaled.addingReportingOverflow(try cbor { try r.readInt() })
                guard !scaleOverflow, !timeOverflow else { throw .badMessage("operation \(index + 1): time out of range") }
                let node = try string(try cbor { try r.readUInt() })
                guard try cbor({ try r.readArrayHead() }) == 3 else { throw .badMessage("operation \(index + 1): malformed target") }
                let map = try string(try cbor { try r.readUInt() })
                let key = try cbor { try r.readString() }
                let strategyIndex = try cbor { try r.readUInt() }
                guard strategyIndex <= UInt64(Strategy.allCases.count) else { throw .badMessage("operation \(index + 1): unknown strategy") }
                let strategy = strategyIndex == 0 ? nil : Strategy.allCases[Int(strategyIndex) - 1]
                let resolveItems = try cbor { try r.readArrayHead() }
                guard resolveItems % 2 == 0, resolveItems <= 2 * ReplicatedOperation.maximumReplicas * 64 else {
                    throw .badMessage("operation \(index + 1): malformed resolves")
                }
                var resolves: [Dot] = []
                for _ in 0..<(resolveItems / 2) {
                    let replica = try string(try cbor { try r.readUInt() })
                    resolves.append(Dot(replica: replica, counter: try cbor { try r.readUInt() }))
                }
                // (Not a ternary: EventValue takes a nil literal, which would read as `.null`.)
                var value: EventValue?
                if items == 11 { value = try cbor { try r.readValue() } }
                operations.append(ReplicatedOperation(
                    dot: Dot(replica: origin, counter: counter), deps: deps, kind: kind, map: map, key: key, value: value,
                    strategy: strategy, resolves: resolves, hlc: HLC(wall: wall, logical: UInt32(logical)),
                    time: Timestamp(nanoseconds: nanoseconds), node: node))
            }
            return SyncResponse(replica: replica, vector: vector, acknowledged: acknowledged, operations: operations, more: more)
        }
        return try response.validated()
    }

    /// Checks the frame (size, magic, version, kind) and reads the body, which must use every byte.
    private static func read<T>(_ bytes: [UInt8], kind: UInt8, _ body: (inout CBORReader) throws(ReplicationError) -> T) throws(ReplicationError) -> T {
        guard bytes.count <= SyncLimits.maximumMessageBytes else {
            throw .badMessage("\(bytes.count) bytes; at most \(SyncLimits.maximumMessageBytes)")
        }
        guard bytes.count >= 6, Array(bytes[0..<4]) == magic else { throw .badMessage("not a sync message (no RSYN magic)") }
        guard bytes[4] == version else { throw .badMessage("format version \(bytes[4]); this build reads version \(version)") }
        guard bytes[5] == kind else { throw .badMessage(kind == requestKind ? "not a sync request" : "not a sync response") }
        let result: Result<T, ReplicationError> = bytes.withUnsafeBytes { raw in
            var reader = CBORReader(raw, offset: 6)
            do {
                let value = try body(&reader)
                guard reader.isAtEnd else { return .failure(.badMessage("\(raw.count - reader.offset) bytes after the message")) }
                return .success(value)
            } catch let error as ReplicationError { return .failure(error) } catch { return .failure(.badMessage("\(error)")) }
        }
        return try result.get()
    }

    private static func cbor<T>(_ body: () throws -> T) throws(ReplicationError) -> T {
        do { return try body() } catch { throw .badMessage("\(error)") }
    }

    private static func writeVector(_ vector: VersionVector, to w: inout CBORWriter) {
        w.mapHead(vector.counters.count)
        for (replica, count) in vector.counters.sorted(by: { $0.key < $1.key }) {
            w.string(replica)
            w.uint(count)
        }
    }

    private static func readVector(_ r: inout CBORReader) throws(ReplicationError) -> VersionVector {
        let count = try cbor { try r.readMapHead() }
        guard count <= ReplicatedOperation.maximumReplicas else { throw .badMessage("a vector of more than \(ReplicatedOperation.maximumReplicas) replicas") }
        var counters: [String: UInt64] = [:]
        for _ in 0..<count {
            let replica = try cbor { try r.readString() }
            guard ReplicaID.isValid(replica) else { throw .badMessage("'\(replica)' is not a replica id") }
            counters[replica] = try cbor { try r.readUInt() }
        }
        return VersionVector(counters)
    }
}

/// Strings of a message, each written once and then referred to by position.
struct StringTable {
    private(set) var strings: [String] = []
    private var positions: [String: UInt64] = [:]

    mutating func index(_ string: String) -> UInt64 {
        if let position = positions[string] { return position }
        let position = UInt64(strings.count)
        strings.append(string)
        positions[string] = position
        return position
    }
}
