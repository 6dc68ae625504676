import Dispatch
import EventStore
import Projections

/// Where a replica keeps its operations: an event log and the replicated state built from it.
/// `StoreLog` is the durable one; `MemoryLog` keeps events in memory, for property tests and
/// simulations that run thousands of replicas.
public protocol OperationLog: AnyObject {
    var replicaID: String { get }
    var nodeID: String { get }
    /// The physical clock, for the bound on remote timestamps.
    var clock: any WallClock { get }
    /// How far ahead of the local clock a remote timestamp may be.
    var maximumClockAheadMicros: Int64 { get }
    /// The state after every event in the log.
    func state() throws(ReplicationError) -> ReplicatedState
    /// Appends atomically: all or nothing. `expecting` as `EventStore.append`. `resulting`,
    /// when given, is the state after these events, computed from the state `state()` last
    /// returned; a log may take it instead of applying the events again.
    func append(_ events: [NewEvent], expecting: [String: ExpectedVersion], resulting: ReplicatedState?) throws(ReplicationError)
    /// Starts an append and returns at once (the caller waits on the result before it starts
    /// another); a log without a writer thread appends before it returns.
    func startAppend(_ events: [NewEvent], expecting: [String: ExpectedVersion]) -> PendingAppend
    /// The log position `state()` stands at.
    var statePosition: UInt64 { get }
    /// Takes `state` as the state at `position` when the log's state still stands at
    /// `previous` (the caller computed it from there, applying exactly the events between).
    func adopt(_ state: ReplicatedState, at position: UInt64, ifAt previous: UInt64)
    /// The operations this log holds that `vector` lacks, in log order (a causal order), at
    /// most `limit`.
    func operations(lacking vector: VersionVector, limit: Int) throws(ReplicationError) -> [ReplicatedOperation]
}

/// A replica's operations in an `EventStore`, with the state kept current by a projection runner.
public final class StoreLog: OperationLog, @unchecked Sendable {
    // @unchecked: the runner has its own lock; the store is thread-safe.
    public let store: EventStore
    let runner: ProjectionRunner<ReplicatedStateProjection>

    public init(store: EventStore) throws(ReplicationError) {
        self.store = store
        do { runner = try ProjectionRunner(store: store, projection: ReplicatedStateProjection()) } catch {
            throw .store(.io(operation: "opening the replicated state", code: -1, message: "\(error)"))
        }
    }

    public var replicaID: String { store.replicaID }
    public var nodeID: String { store.nodeID }
    public var clock: any WallClock { store.options.clock }
    public var maximumClockAheadMicros: Int64 { store.options.maximumClockAheadMicros }

    public func state() throws(ReplicationError) -> ReplicatedState {
        do { try runner.catchUp() } catch {
            if case .store(let storeError) = error { throw .store(storeError) }
            throw .store(.io(operation: "building the replicated state", code: -1, message: "\(error)"))
        }
        return runner.state.value
    }

    /// Events the projection skipped (malformed or out of order), for `sync status`.
    public var malformed: MalformedEvents { runner.state.malformed }

    public func append(_ events: [NewEvent], expecting: [String: ExpectedVersion], resulting: ReplicatedState?) throws(ReplicationError) {
        let before = runner.position
        let result: AppendResult
        do { result = try store.appendBlocking(events, expecting: expecting) } catch { throw .store(error) }
        // Adopted only when the events went in right after what the state covers, all of them.
        guard var state = resulting.map({ Tolerant($0) }), result.written == events.count, let last = result.positions.last,
              result.positions.first == before + 1, last == before + UInt64(events.count) else { return }
        state.malformed = runner.state.malformed
        runner.adopt(state, at: last, ifAt: before)
    }

    public func startAppend(_ events: [NewEvent], expecting: [String: ExpectedVersion]) -> PendingAppend {
        let pending = PendingAppend(count: events.count)
        let store = self.store
        DispatchQueue.global().async {
            do throws(StoreError) { pending.finish(.success(try store.appendBlocking(events, expecting: expecting))) } catch {
                pending.finish(.failure(.store(error)))
            }
        }
        return pending
    }

    public var statePosition: UInt64 { runner.position }

    public func adopt(_ state: ReplicatedState, at position: UInt64, ifAt previous: UInt64) {
        var adopted = Tolerant(state)
        adopted.malformed = runner.state.malformed
        runner.adopt(adopted, at: position, ifAt: previous)
    }

    public func operations(lacking vector: VersionVector, limit: Int) throws(ReplicationError) -> [ReplicatedOperation] {
        let held = try state().vector
        var out: [ReplicatedOperation] = []
        do {
            // Where the first operation the requester lacks lies, per replica (one index seek
            // each); from the earliest of them one sequential scan collects the page in log
            // order, which is the fast read path of the store.
            var start: UInt64?
            for (replica, count) in held.counters where count > vector[replica] {
                let iterator = store.read(stream: ReplicatedOperation.stream(of: replica), fromVersion: vector[replica] + 1).makeIterator()
                if let first = try iterator.next() { start = min(start ?? first.seq, first.seq) }
            }
            guard let start else { return [] }
            try store.scan(from: start) { event in
                guard ReplicationEvent.replicated.contains(event.type), let op = try? ReplicatedOperation(event: event, checking: false),
                      !vector.contains(op.dot), held.contains(op.dot) else { return true }
                out.append(op)
                return out.count < limit
            }
        } catch { throw .store(error) }
        return out
    }
}

/// A replica's log in memory: the same events and the same projection as a store, without
/// the disk. For property tests and simulations.
public final class MemoryLog: OperationLog, @unchecked Sendable {
    // @unchecked: used from one thread at a time, like the tests that drive it.
    public let replicaID: String
    public let nodeID: String
    public let clock: any WallClock
    public let maximumClockAheadMicros: Int64 = 60_000_000
    public private(set) var events: [Event] = []
    /// The operations among `events`, in log order.
    private var operations: [ReplicatedOperation] = []
    private var current = ReplicatedStateProjection().initialState
    private var ids: Set<String> = []
    private var versions: [String: UInt64] = [:]
    private var hlc = HLC.zero

    public init(replicaID: String, nodeID: String? = nil, clock: any WallClock) {
        self.replicaID = replicaID
        self.nodeID = nodeID ?? "node-\(replicaID)"
        self.clock = clock
    }

    public func state() -> ReplicatedState { current.value }
    public var malformed: MalformedEvents { current.malformed }

    public func append(_ new: [NewEvent], expecting: [String: ExpectedVersion], resulting: ReplicatedState?) throws(ReplicationError) {
        for (stream, expected) in expecting where !expected.admits(versions[stream] ?? 0) {
            throw .store(.conflict(stream: stream, expected: expected, actual: versions[stream] ?? 0))
        }
        for event in new where event.id.map({ !ids.contains($0) }) ?? true {
            let now = clock.now()
            // As the store's writer does: tick, and move past a remote clock that is ahead.
            hlc = HLC.tick(after: hlc, now: now)
            if let remote = event.hlc, remote >= hlc { hlc = remote.successor }
            let version = (versions[event.stream] ?? 0) + 1
            versions[event.stream] = version
            let id = event.id ?? "\(replicaID)-\(events.count + 1)"
            ids.insert(id)
            let stored = Event(seq: UInt64(events.count + 1), stream: event.stream, type: event.type, data: event.data, id: id,
                               time: event.time ?? now, hlc: event.hlc ?? hlc, node: event.node ?? nodeID, version: version)
            events.append(stored)
            ReplicatedStateProjection().apply(stored, to: &current)
            if let op = try? ReplicatedOperation(event: stored) { operations.append(op) }
        }
    }

    public func startAppend(_ events: [NewEvent], expecting: [String: ExpectedVersion]) -> PendingAppend {
        let pending = PendingAppend(count: events.count)
        let first = UInt64(self.events.count + 1)
        do {
            try append(events, expecting: expecting, resulting: nil)
            let positions = Array(first..<UInt64(self.events.count + 1))
            pending.finish(.success(AppendResult(positions: positions, written: positions.count)))
        } catch { pending.finish(.failure(error)) }
        return pending
    }

    public var statePosition: UInt64 { UInt64(events.count) }

    /// The in-memory log applies its events as it appends them; there is nothing to adopt.
    public func adopt(_ state: ReplicatedState, at position: UInt64, ifAt previous: UInt64) {}

    public func operations(lacking vector: VersionVector, limit: Int) -> [ReplicatedOperation] {
        var out: [ReplicatedOperation] = []
        for op in operations where out.count < limit && !vector.contains(op.dot) { out.append(op) }
        return out
    }
}

/// An append under way: `wait()` returns its result once it is durable.
public final class PendingAppend: @unchecked Sendable {
    // @unchecked: `result` is written once before `done` is signalled and read after waiting.
    public let count: Int
    private let done = DispatchSemaphore(value: 0)
    private var result: Result<AppendResult, ReplicationError>?

    init(count: Int) { self.count = count }

    func finish(_ result: Result<AppendResult, ReplicationError>) {
        self.result = result
        done.signal()
    }

    public func wait() throws(ReplicationError) -> AppendResult {
        done.wait()
        guard let result else { throw .store(.closed) }
        return try result.get()
    }
}

