import EventStore

/// The JSON encoding of sync messages, for people and for tools: each operation as the event
/// that records it (type, payload, origin clock, time and node).
/// `{"format": "recovery-sync", "version": 1, "type": "request" | "response", ...}`.
public enum SyncJSON {
    public static let format = "recovery-sync"

    public static func encode(_ request: SyncRequest) -> String {
        JSONWriter.encode(["format": .string(format), "version": .int(Int64(SyncCoding.version)), "type": "request",
                           "replica": .string(request.replica), "vector": ReplicatedOperation.document(request.vector)])
    }

    public static func encode(_ response: SyncResponse) -> String {
        let operations: [EventValue] = response.operations.map { op in
            ["type": .string(op.eventType), "data": op.payload, "node": .string(op.node), "time": .string(op.time.rfc3339),
             "hlc": ["wall": .int(op.hlc.wall), "logical": .int(Int64(op.hlc.logical))]]
        }
        return JSONWriter.encode([
            "format": .string(format), "version": .int(Int64(SyncCoding.version)), "type": "response",
            "replica": .string(response.replica), "vector": ReplicatedOperation.document(response.vector),
            "acknowledged": .map(response.acknowledged.mapValues(ReplicatedOperation.document)),
            "more": .bool(response.more), "operations": .array(operations),
        ])
    }

    public static func decodeRequest(_ bytes: [UInt8]) throws(ReplicationError) -> SyncRequest {
        let d = try header(bytes, type: "request")
        return try payload {  () throws(PayloadError) in
            let replica = try d.string("replica")
            guard ReplicaID.isValid(replica) else { throw PayloadError(field: "replica", message: "'\(replica)' is not a replica id") }
            return SyncRequest(replica: replica, vector: try ReplicatedOperation.vector(d.value("vector"), path: "vector"))
        }
    }

    public static func decodeResponse(_ bytes: [UInt8]) throws(ReplicationError) -> SyncResponse {
        let d = try header(bytes, type: "response")
        let response = try payload { () throws(PayloadError) in
            var acknowledged: [String: VersionVector] = [:]
            for (replica, vector) in try d.object("acknowledged").fields {
                acknowledged[replica] = try ReplicatedOperation.vector(vector, path: "acknowledged.\(replica)")
            }
            guard case .array(let items)? = d.value("operations") else { throw PayloadError(field: "operations", message: "an array is required") }
            guard items.count <= SyncLimits.maximumOperations else { throw PayloadError(field: "operations", message: "too many") }
            var operations: [ReplicatedOperation] = []
            for (index, item) in items.enumerated() {
                let path = "operations[\(index)]"
                let o = try PayloadReader(item, path: path)
                let hlc = try o.object("hlc")
                let wall = try hlc.int("wall", in: 0...Int64.max)
                let logical = try hlc.int("logical", in: 0...Int64(UInt32.max))
                let timeText = try o.string("time")
                guard let time = Timestamp(rfc3339: timeText) else { throw PayloadError(field: "\(path).time", message: "not an RFC 3339 time") }
                guard let data = o.value("data") else { throw PayloadError(field: "\(path).data", message: "required") }
                operations.append(try ReplicatedOperation(type: try o.string("type"), data: data, hlc: HLC(wall: Int64(wall), logical: UInt32(logical)),
                                                          time: time, node: try o.string("node")))
            }
            return SyncResponse(replica: try d.string("replica"), vector: try ReplicatedOperation.vector(d.value("vector"), path: "vector"),
                                acknowledged: acknowledged, operations: operations, more: try d.bool("more"))
        }
        return try response.validated()
    }

    private static func header(_ bytes: [UInt8], type: String) throws(ReplicationError) -> PayloadReader {
        guard bytes.count <= SyncLimits.maximumMessageBytes else {
            throw .badMessage("\(bytes.count) bytes; at most \(SyncLimits.maximumMessageBytes)")
        }
        let value: EventValue
        do { value = try JSONParser.parse(bytes) } catch { throw .badMessage("\(error)") }
        return try payload { () throws(PayloadError) in
            let d = try PayloadReader(value, path: "message")
            guard try d.string("format") == format else { throw PayloadError(field: "format", message: "must be \(format)") }
            let version = try d.int("version", in: 0...Int64(UInt8.max))
            guard version == Int(SyncCoding.version) else {
                throw PayloadError(field: "version", message: "\(version); this build reads version \(SyncCoding.version)")
            }
            guard try d.string("type") == type else { throw PayloadError(field: "type", message: "must be \(type)") }
            return d
        }
    }

    private static func payload<T>(_ body: () throws(PayloadError) -> T) throws(ReplicationError) -> T {
        do { return try body() } catch { throw .badMessage("\(error)") }
    }
}
