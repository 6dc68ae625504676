import EventStore
import Projections

/// The replicated state as the log holds it: every delivered operation applied in log order,
/// acknowledgements from `crdt.synced`, collections from `crdt.gc`. An event that does not fit
/// (a malformed payload, an operation out of causal order or refused by the state) is skipped
/// and counted, the same way in every build.
public struct ReplicatedStateProjection: Projection {
    public typealias State = Tolerant<ReplicatedState>

    public init() {}

    public var name: String { "replicated" }
    public var version: UInt32 { 1 }
    public var initialState: State { Tolerant(ReplicatedState()) }

    public func apply(_ event: Event, to state: inout State) {
        switch event.type {
        case _ where ReplicationEvent.replicated.contains(event.type):
            state.applying(event) { value throws(PayloadError) in
                guard let op = try ReplicatedOperation(event: event) else { return }
                try Self.deliver(op, to: &value)
            }
        case ReplicationEvent.synced:
            state.applying(event) { value throws(PayloadError) in
                let synced = try SyncedPayload(event.data)
                value.acknowledge(synced.peer, synced.peerVector)
                for (replica, vector) in synced.peerAcks { value.acknowledge(replica, vector) }
            }
        case ReplicationEvent.gc:
            state.applying(event) { value throws(PayloadError) in
                let stable = try ReplicatedOperation.vector(try PayloadReader(event.data).value("stable_vv"), path: "data.stable_vv")
                guard value.vector.includes(stable) else {
                    throw PayloadError(field: "data.stable_vv", message: "reaches past the operations delivered")
                }
                value.collect(through: stable)
            }
        case ReplicationEvent.conflict:
            state.value.conflictsRecorded.addSaturated(1)
        default:
            return
        }
    }

    /// Delivers one operation read from the log, or throws why it cannot be.
    static func deliver(_ op: ReplicatedOperation, to state: inout ReplicatedState) throws(PayloadError) {
        switch state.readiness(of: op) {
        case .duplicate: throw PayloadError(field: "data.dot", message: "\(op.dot) was delivered before")
        case .waiting: throw PayloadError(field: "data.deps", message: "\(op.dot) arrived before its dependencies")
        case .ready:
            do { try state.apply(op) } catch { throw PayloadError(field: "data", message: error.description) }
        }
    }
}

extension ReplicatedState {
    /// Records that `replica` has seen `vector` (acknowledgements only grow).
    mutating func acknowledge(_ replica: String, _ vector: VersionVector) {
        guard members[replica]?.decommissionedAfter == nil else { return }
        acknowledged[replica] = (acknowledged[replica] ?? VersionVector()).merging(vector)
    }
}
