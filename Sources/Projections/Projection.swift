import EventStore

/// A pure reducer from the log to a state: current state, state at any earlier point, what an
/// audit or a rollback needs, all from the same function.
///
/// `apply` must be deterministic and free of side effects. It receives nothing but the event and
/// the state, so a projection cannot reach an actuator, a clock or a random generator; replaying
/// a log therefore never acts on the world, and the same events always give byte-identical
/// states, whether built incrementally, from a snapshot, or from scratch.
///
/// Events with malformed payloads must be tolerated (skipped or recorded), never trapped on:
/// the log is external input.
///
/// ```swift
/// struct Errors: Projection {
///     var name: String { "errors" }
///     var version: UInt32 { 1 }
///     var initialState: [String: Int] { [:] }
///     func apply(_ event: Event, to state: inout [String: Int]) {
///         if event.type == "action.failed" { state[event.stream, default: 0] += 1 }
///     }
/// }
/// ```
public protocol Projection: Sendable {
    associatedtype State: Codable & Equatable & Sendable

    /// Unique among the projections of one store; names its snapshots and checkpoint.
    var name: String { get }
    /// Bump it whenever `apply` or `State` changes meaning: snapshots written by another version
    /// are ignored and rebuilt, never misread.
    var version: UInt32 { get }
    var initialState: State { get }
    /// The optional parts of an event that `apply` reads; replay skips decoding the rest.
    var fields: EventFields { get }
    /// A snapshot is saved after every event whose seq is a multiple of this.
    var snapshotInterval: UInt64 { get }

    func apply(_ event: Event, to state: inout State)

    /// Applies a run of consecutive events. Replays and catch-ups call this with runs of up to
    /// a thousand events; the default applies them one by one. A projection may do per-run
    /// work once instead (hash each distinct name once, say), but must end in exactly the state
    /// the one-by-one form gives: the determinism check compares the two.
    func apply(_ events: ArraySlice<Event>, to state: inout State)

    /// Whether replays and catch-ups hand this projection runs of records read in place
    /// (`apply(_: RecordRun, to:)`) instead of decoded events. Only a projection whose
    /// `fields` is `.envelope` can: a record view holds no payload, tags or links.
    var readsRecordsInPlace: Bool { get }

    /// Applies a run of consecutive records read in place from the store, valid only during
    /// the call: for projections that count or group by name, which can then skip building an
    /// `Event` and its strings per record (see `RecordView`). Called only when
    /// `readsRecordsInPlace` is true; the default builds the envelope-only events and applies
    /// them as a run. Must end in exactly the state the one-by-one form gives: the determinism
    /// check compares the two.
    func apply(_ records: RecordRun, to state: inout State)

    /// How to combine runs applied apart, for a projection that allows it:
    /// `combine(&state, later)`, where `later` is a run applied to `initialState`, must leave
    /// in `state` exactly what applying that run to `state` gives. Counts and sums combine, as
    /// do "latest value" fields. Replays then apply runs on several cores at once, each to the
    /// initial state, and combine the results in log order. nil (the default): runs are
    /// applied in order, on one thread. The determinism check covers the combination: its
    /// from-scratch and snapshot states are built this way, the incremental one event by event.
    var combineRuns: (@Sendable (inout State, State) -> Void)? { get }
}

extension Projection {
    public var fields: EventFields { .all }
    public var snapshotInterval: UInt64 { 10_000 }

    public func apply(_ events: ArraySlice<Event>, to state: inout State) {
        for event in events { apply(event, to: &state) }
    }

    public var readsRecordsInPlace: Bool { false }

    public var combineRuns: (@Sendable (inout State, State) -> Void)? { nil }

    public func apply(_ records: RecordRun, to state: inout State) {
        apply(records.map { $0.event() }[...], to: &state)
    }

    /// Whether replays read this projection's records in place.
    var replaysInPlace: Bool { readsRecordsInPlace && fields == .envelope }

    /// Folds `events` into `state`.
    public func reduce<S: Sequence>(_ events: S, into state: inout State) where S.Element == Event {
        for event in events { apply(event, to: &state) }
    }
}

/// A projection's state in its canonical form: the deterministic CBOR bytes that snapshots hold
/// and digests cover.
public struct EncodedState: Sendable, Hashable {
    public let bytes: [UInt8]
    /// SHA-256 of `bytes`.
    public let digest: Digest

    public init(bytes: [UInt8]) throws(ProjectionError) {
        self.bytes = bytes
        do { digest = try Digest.sha256(bytes) } catch { throw .store(error) }
    }

    /// The state as a self-describing value, for JSON output and diffs.
    public func value() throws(ProjectionError) -> EventValue {
        do { return try EventValueDecoder().decode(EventValue.self, fromCBOR: bytes) } catch {
            throw .undecodableState(reason: "\(error)")
        }
    }
}

extension Projection {
    /// The canonical encoding of `state`.
    public func encode(_ state: State) throws(ProjectionError) -> EncodedState {
        let bytes: [UInt8]
        do { bytes = try EventValueEncoder().encodeCBOR(state) } catch {
            throw .unencodableState(projection: name, reason: "\(error)")
        }
        return try EncodedState(bytes: bytes)
    }

    /// Decodes a state from its canonical bytes.
    public func decode(_ bytes: [UInt8]) throws(ProjectionError) -> State {
        do { return try EventValueDecoder().decode(State.self, fromCBOR: bytes) } catch {
            throw .undecodableState(reason: "\(error)")
        }
    }
}
