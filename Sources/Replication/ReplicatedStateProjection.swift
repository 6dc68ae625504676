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
    /// The state holds every key of every map, so a snapshot costs in proportion to the state:
    /// taken ten times less often than the default, replays stay short and the apply path is
    /// not held up by encodings (see BENCHMARKS.md, issue 14).
    public var snapshotInterval: UInt64 { 1_000_000 }

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
                value.recordSynced(peer: synced.peer, vector: synced.peerVector, acks: synced.peerAcks)
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
    /// What a `crdt.synced` record changes: the peer's acknowledgement and the others it
    /// reported, in a fixed order (the replica writing the record computes the same state).
    mutating func recordSynced(peer: String, vector: VersionVector, acks: [String: VersionVector]) {
        acknowledge(peer, vector)
        for (replica, ack) in acks.sorted(by: { $0.key < $1.key }) where replica != peer { acknowledge(replica, ack) }
    }

    /// Records that `replica` has seen `vector` (acknowledgements only grow).
    mutating func acknowledge(_ replica: String, _ vector: VersionVector) {
        guard members[replica]?.decommissionedAfter == nil else { return }
        acknowledged[replica] = (acknowledged[replica] ?? VersionVector()).merging(vector)
    }
}
