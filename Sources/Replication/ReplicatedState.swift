import EventStore

/// Why a replica refuses an operation (the message that carried it is refused whole).
public enum ReplicationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A write with another strategy than the key's, fixed by its first write.
    case strategyConflict(map: String, key: String, existing: Strategy, attempted: Strategy)
    /// An operation from a replica after its decommissioning; it must do a full resync.
    case decommissioned(replica: String)
    /// An operation concurrent with state this replica already collected: its origin missed
    /// history that is gone, and must do a full resync.
    case behindCollectedFrontier(dot: Dot)
    /// An operation that does not fit, on its own.
    case malformed(PayloadError)
    /// A sync message that could not be read or does not fit its sender.
    case badMessage(String)
    /// More operations wait for missing dependencies than the buffer holds.
    case bufferFull(limit: Int)
    /// A local write that the key's state refuses (a set on a manual key with an open conflict).
    case refused(String)
    case store(StoreError)

    public var description: String {
        switch self {
        case .strategyConflict(let map, let key, let existing, let attempted):
            return "key '\(key)' of map '\(map)' follows \(existing.rawValue), fixed by its first write; a \(attempted.rawValue) write is refused"
        case .decommissioned(let replica):
            return "replica \(replica) was decommissioned: its operations are refused; it must do a full resync into a new store"
        case .behindCollectedFrontier(let dot):
            return "operation \(dot) is concurrent with state already garbage-collected here: its replica must do a full resync"
        case .malformed(let error): return "malformed operation: \(error)"
        case .badMessage(let reason): return "refused sync message: \(reason)"
        case .bufferFull(let limit):
            return "more than \(limit) operations wait for missing dependencies: do a full resync (sync pull from a peer that has them)"
        case .refused(let reason): return reason
        case .store(let error): return error.description
        }
    }
}

/// One of the concurrent values of a register (a tombstone when `value` is nil).
public struct Sibling: Sendable, Codable, Equatable {
    /// nil once garbage collection compacted it (causally stable: every later write covers it).
    public var dot: Dot?
    public var hlc: HLC
    public var replica: String
    public var value: EventValue?

    /// The last_write_wins order: clock, then replica id.
    func wins(over other: Sibling) -> Bool { (hlc, replica) > (other.hlc, other.replica) }
}

/// One element of an add-wins set with the adds that hold it in.
public struct SetElement: Sendable, Codable, Equatable {
    public var value: EventValue
    public var dots: [Dot]
    /// Held in by adds that garbage collection compacted.
    public var stable: Bool = false
}

/// One key of a replicated map.
public struct Entry: Sendable, Codable, Equatable {
    public var strategy: Strategy
    /// Registers: the concurrent values, by dot.
    public var siblings: [Sibling] = []
    /// Sets: canonical JSON of the element -> element.
    public var elements: [String: SetElement] = [:]
    /// Counters: per replica, the sums of its increments and of its decrements.
    public var increments: [String: UInt64] = [:]
    public var decrements: [String: UInt64] = [:]

    init(strategy: Strategy) { self.strategy = strategy }

    /// The live values: one for last_write_wins and vector_clock, every concurrent one for
    /// merge_all and manual; the elements of a set (by their JSON); a counter's value.
    public var values: [EventValue] {
        switch strategy {
        case .lastWriteWins, .vectorClock:
            let winner = siblings.max { $1.wins(over: $0) }
            return winner?.value.map { [$0] } ?? []
        case .mergeAll, .manual:
            // In a fixed order (collection may compact the dots they are kept by).
            return siblings.compactMap(\.value).sorted { JSONWriter.encode($0) < JSONWriter.encode($1) }
        case .addWinsSet:
            return elements.keys.sorted().compactMap { elements[$0]?.value }
        case .pnCounter:
            return [.int(counterValue)]
        }
    }

    public var counterValue: Int64 {
        let up = increments.values.reduce(UInt64(0)) { $0.addingSaturated($1) }
        let down = decrements.values.reduce(UInt64(0)) { $0.addingSaturated($1) }
        return up >= down ? Int64(clamping: up - down) : -Int64(clamping: down - up)
    }

    /// A manual key with concurrent values (or a value concurrent with a delete).
    public var hasOpenConflict: Bool { strategy == .manual && siblings.count > 1 }

    /// A register whose every value is deleted: absent to readers, kept until collected.
    public var isTombstone: Bool { strategy.isRegister && siblings.allSatisfy { $0.value == nil } }
}

/// A member of the replica group and whether it left.
public struct Member: Sendable, Codable, Equatable {
    public var node: String
    /// Set when a member decommissioned it: how many of its operations that member had seen.
    /// Later operations of it are refused.
    public var decommissionedAfter: UInt64?
    public var decommissionedBy: String?
}

/// What applying an operation changed that the replica records beside it.
public struct Applied: Sendable, Equatable {
    /// A vector_clock write that met concurrent values: the values that lost, and their dots.
    public var losingValues: [EventValue] = []
    public var losingDots: [Dot] = []
}

/// The replicated state of one replica: every map's keys, the operations delivered (its version
/// vector), the members and what each acknowledged. A pure function of the log, built by
/// `ReplicatedStateProjection`; replicas apply operations to it through `apply`.
public struct ReplicatedState: Sendable, Codable, Equatable {
    /// The operations delivered here: with causal delivery, a prefix of each replica's.
    public var vector = VersionVector()
    /// Map name -> key -> entry.
    public var maps: [String: [String: Entry]] = [:]
    public var members: [String: Member] = [:]
    /// Peer -> the vector it acknowledged having seen (its own, as it last reported it).
    public var acknowledged: [String: VersionVector] = [:]
    /// The operations garbage collection has compacted through.
    public var collected = VersionVector()
    public var tombstonesRemoved: UInt64 = 0
    public var dotsCompacted: UInt64 = 0
    public var conflictsRecorded: UInt64 = 0

    public init() {}

    public func entry(map: String, key: String) -> Entry? { maps[map]?[key] }

    /// Whether `op` is already delivered (a duplicate), deliverable now, or must wait.
    public func readiness(of op: ReplicatedOperation) -> Readiness {
        if vector.contains(op.dot) { return .duplicate }
        guard op.dot.counter == vector[op.dot.replica] + 1, vector.includes(op.deps) else { return .waiting }
        return .ready
    }

    public enum Readiness: Sendable { case duplicate, ready, waiting }

    /// Throws when this state refuses `op` (a deliverable one): a strategy conflict, an
    /// operation of a decommissioned replica, or one concurrent with collected history.
    public func check(_ op: ReplicatedOperation) throws(ReplicationError) {
        if let member = members[op.dot.replica], let after = member.decommissionedAfter, op.dot.counter > after {
            throw .decommissioned(replica: op.dot.replica)
        }
        // A member's operations delivered after a collection were made after it acknowledged
        // everything collected (stability demands it), so their context includes it.
        guard op.deps.includes(collected) else { throw .behindCollectedFrontier(dot: op.dot) }
        guard let strategy = op.strategy, let existing = maps[op.map]?[op.key], existing.strategy != strategy else { return }
        guard existing.isTombstone, existing.siblings.allSatisfy({ $0.dot.map(op.deps.contains) ?? true }) else {
            throw .strategyConflict(map: op.map, key: op.key, existing: existing.strategy, attempted: strategy)
        }
    }

    /// Delivers `op` (which must be `.ready` and pass `check`): the one place operations change
    /// replicated state.
    @discardableResult
    public mutating func apply(_ op: ReplicatedOperation) throws(ReplicationError) -> Applied {
        try check(op)
        vector[op.dot.replica] = op.dot.counter
        var applied = Applied()
        switch op.kind {
        case .join:
            if members[op.key] == nil, case .string(let node)? = op.value { members[op.key] = Member(node: node) }
        case .decommission:
            var member = members[op.key] ?? Member(node: "")
            if member.decommissionedAfter == nil {
                member.decommissionedAfter = op.deps[op.key]
                member.decommissionedBy = op.dot.replica
            }
            members[op.key] = member
            acknowledged[op.key] = nil
        case .set, .delete, .resolve:
            guard let strategy = op.strategy else { break }
            var entry = maps[op.map]?[op.key] ?? Entry(strategy: strategy)
            if entry.strategy != strategy { entry = Entry(strategy: strategy) }
            applied = entry.write(op)
            maps[op.map, default: [:]][op.key] = entry
        case .add, .remove:
            var entry = maps[op.map]?[op.key] ?? Entry(strategy: .addWinsSet)
            entry.setOperation(op)
            maps[op.map, default: [:]][op.key] = entry
        case .increment:
            var entry = maps[op.map]?[op.key] ?? Entry(strategy: .pnCounter)
            guard case .int(let amount)? = op.value else { break }
            if amount >= 0 {
                entry.increments[op.dot.replica, default: 0].addSaturated(UInt64(amount))
            } else {
                entry.decrements[op.dot.replica, default: 0].addSaturated(amount.magnitude)
            }
            maps[op.map, default: [:]][op.key] = entry
        }
        return applied
    }
}

extension Entry {
    /// A register write (set, delete, resolve).
    mutating func write(_ op: ReplicatedOperation) -> Applied {
        let new = Sibling(dot: op.dot, hlc: op.hlc, replica: op.dot.replica, value: op.kind == .delete ? nil : op.value)
        if strategy == .lastWriteWins {
            if siblings.allSatisfy({ new.wins(over: $0) }) { siblings = [new] }
            return Applied()
        }
        // What the writer had seen, it replaces; compacted siblings every later write has seen.
        siblings.removeAll { $0.dot.map(op.deps.contains) ?? true }
        siblings.append(new)
        siblings.sort { ($0.dot?.replica ?? "", $0.dot?.counter ?? 0) < ($1.dot?.replica ?? "", $1.dot?.counter ?? 0) }
        guard strategy == .vectorClock, siblings.count > 1, let winner = siblings.max(by: { $1.wins(over: $0) }) else { return Applied() }
        var applied = Applied()
        for sibling in siblings where sibling != winner {
            applied.losingValues.append(sibling.value ?? .null)
            if let dot = sibling.dot { applied.losingDots.append(dot) }
        }
        return applied
    }

    /// An add or remove on an add-wins set: a remove takes out the adds its writer had seen,
    /// so an add concurrent with it survives.
    mutating func setOperation(_ op: ReplicatedOperation) {
        guard let value = op.value else { return }
        let name = JSONWriter.encode(value)
        var element = elements[name] ?? SetElement(value: value, dots: [])
        element.dots.removeAll { op.deps.contains($0) }
        // Compacted adds are in every later operation's context.
        element.stable = false
        if op.kind == .add {
            element.dots.append(op.dot)
            element.dots.sort()
        }
        elements[name] = element.dots.isEmpty && !element.stable ? nil : element
    }
}
