import EventStore

/// One operation's identity: the replica that made it and that replica's count of operations
/// so far (from 1). Every operation a replica makes gets the next dot.
public struct Dot: Sendable, Hashable, Codable, Comparable, CustomStringConvertible {
    public var replica: String
    public var counter: UInt64

    public init(replica: String, counter: UInt64) {
        self.replica = replica
        self.counter = counter
    }

    public static func < (a: Dot, b: Dot) -> Bool { (a.replica, a.counter) < (b.replica, b.counter) }

    public var description: String { "\(replica):\(counter)" }
}

/// How two version vectors, or the operations they summarise, are ordered by causality.
public enum CausalOrder: String, Sendable, Hashable {
    /// Everything the left side has seen, the right side has seen, and more.
    case before
    case after
    case equal
    /// Each side has seen something the other has not.
    case concurrent
}

/// A version vector: for each replica, how many of its operations have been seen. With causal
/// delivery the operations seen from each replica are a prefix, so the vector is the whole
/// causal context.
public struct VersionVector: Sendable, Hashable, Codable, CustomStringConvertible {
    /// Replica id -> count; replicas at 0 are left out, so equal vectors are equal values.
    public private(set) var counters: [String: UInt64]

    public init(_ counters: [String: UInt64] = [:]) {
        self.counters = counters.filter { $0.value > 0 }
    }

    public subscript(replica: String) -> UInt64 {
        get { counters[replica] ?? 0 }
        set { counters[replica] = newValue == 0 ? nil : newValue }
    }

    /// Whether the operation `dot` is among those seen.
    public func contains(_ dot: Dot) -> Bool { self[dot.replica] >= dot.counter }

    public func compare(_ other: VersionVector) -> CausalOrder {
        var less = false, greater = false
        for replica in Set(counters.keys).union(other.counters.keys) {
            let mine = self[replica], theirs = other[replica]
            if mine < theirs { less = true }
            if mine > theirs { greater = true }
        }
        switch (less, greater) {
        case (false, false): return .equal
        case (true, false): return .before
        case (false, true): return .after
        case (true, true): return .concurrent
        }
    }

    /// Whether everything `other` has seen, this has seen too.
    public func includes(_ other: VersionVector) -> Bool {
        other.counters.allSatisfy { self[$0.key] >= $0.value }
    }

    /// The pointwise maximum: what either side has seen.
    public func merging(_ other: VersionVector) -> VersionVector {
        VersionVector(counters.merging(other.counters, uniquingKeysWith: max))
    }

    /// The pointwise minimum: what both sides have seen.
    public func meeting(_ other: VersionVector) -> VersionVector {
        var both: [String: UInt64] = [:]
        for (replica, count) in counters { both[replica] = min(count, other[replica]) }
        return VersionVector(both)
    }

    public var description: String {
        "[" + counters.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }.joined(separator: " ") + "]"
    }

    /// Encoded as the map of its counters, so the JSON and CBOR forms read as `{replica: n}`.
    public init(from decoder: any Decoder) throws {
        self.init(try [String: UInt64](from: decoder))
    }

    public func encode(to encoder: any Encoder) throws { try counters.encode(to: encoder) }
}
