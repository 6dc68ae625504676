import Dispatch
import EventStore

/// Snapshots of a replay encoded on other cores while the replay goes on. The state is a
/// value, so handing it over copies nothing until the replay next changes it (then one copy of
/// what changes); each encoding runs on the global queue and its result is kept by seq. A
/// `stats` snapshot of 2,000 streams takes about 0.8 ms to encode, a sixth of a 1M-event
/// rebuild's time when it was done in line, on the thread that applies events.
final class BackgroundEncodings<P: Projection>: @unchecked Sendable {
    // @unchecked: `results` is guarded by `lock`; the rest is immutable.
    private let projection: P
    private let group = DispatchGroup()
    private let lock = Mutex()
    private var results: [(seq: UInt64, encoded: Result<EncodedState, ProjectionError>)] = []

    init(_ projection: P) { self.projection = projection }

    /// Starts encoding `state`, the state after event `seq`.
    func encode(_ state: P.State, at seq: UInt64) {
        let projection = self.projection
        group.enter()
        DispatchQueue.global().async { [self] in
            let encoded = Result { () throws(ProjectionError) in try projection.encode(state) }
            lock.withLock { results.append((seq, encoded)) }
            group.leave()
        }
    }

    /// Waits for every encoding started; returns them in seq order, or the first failure.
    func finish() throws(ProjectionError) -> [(seq: UInt64, state: EncodedState)] {
        group.wait()
        let finished = lock.withLock { results }.sorted { $0.seq < $1.seq }
        var encodings: [(seq: UInt64, state: EncodedState)] = []
        encodings.reserveCapacity(finished.count)
        for (seq, encoded) in finished { encodings.append((seq, try encoded.get())) }
        return encodings
    }
}
