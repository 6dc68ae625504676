import EventStore

/// What `Retention.archive` did.
public struct ArchiveOutcome: Sendable, Hashable {
    public var mark: ArchiveMark
    /// Events moved out of the live store.
    public var events: UInt64
    /// The projections whose state at the anchor was saved.
    public var snapshots: [String]
}

/// Retention: moves the oldest part of the log out of the live store into a verifiable segment,
/// so that a long-lived agent's store does not grow without bound.
public enum Retention {
    /// The stream of `store.archived` events.
    public static let stream = "store/archives"

    /// Archives events from the current anchor through `seq` into `directory` (created if
    /// missing): saves the state of every projection of `projections` at `seq` (the live store
    /// replays from there from now on), writes the segment and reads it back (every line
    /// verified, linked to the anchor, ending at `seq`'s hash, hashed), and only then removes
    /// the events and their index entries. Records `store.archived`
    /// {first_seq, through_seq, anchor_hash, archive, sha256, events}.
    public static func archive(_ store: EventStore, through seq: UInt64, to directory: String,
                               projections: ProjectionRegistry) throws(ProjectionError) -> ArchiveOutcome {
        let head = try storeStep { try store.head() }
        let anchor = try storeStep { try store.archiveAnchor() }
        let first = (anchor?.seq ?? 0) + 1
        guard seq >= first, seq <= head.seq else {
            let live = head.seq >= first ? "\(first)...\(head.seq)" : "nothing"
            throw .pointOutOfRange("cannot archive through seq \(seq): the live log holds \(live)")
        }
        guard let last = try storeStep({ try store.event(at: seq) }) else { throw .pointOutOfRange("no event at seq \(seq)") }
        var saved: [String] = []
        for projection in projections.all {
            try projection.saveSnapshot(at: seq, in: store)
            saved.append(projection.name)
        }
        let segment = try storeStep { try LogSegment.write(store, first: first, last: seq, into: directory) }
        if let problem = LogSegment.check(segment.path, prev: anchor?.hash ?? .zero, head: Anchor(seq: seq, hash: last.hash), sha256: segment.sha256) {
            throw .store(.io(operation: "checking the archive \(segment.path)", code: 0, message: "\(problem); nothing was removed"))
        }
        let mark = try storeStep { try store.removeArchived(through: seq, location: segment.path, segmentSHA256: segment.sha256) }
        _ = try storeStep {
            try store.appendBlocking([NewEvent(type: "store.archived", stream: stream, data: [
                "first_seq": .int(Int64(clamping: first)), "through_seq": .int(Int64(clamping: seq)), "anchor_hash": .string(mark.hash.hex),
                "archive": .string(segment.path), "sha256": .string(segment.sha256.hex), "events": .int(Int64(clamping: segment.events)),
            ])])
        }
        return ArchiveOutcome(mark: mark, events: segment.events, snapshots: saved)
    }
}
