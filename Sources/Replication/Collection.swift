import EventStore

/// Where garbage collection may go: the causally stable frontier and what holds it back.
public struct Stability: Sendable, Equatable {
    /// Every operation within it has been seen by every current member, and every operation
    /// concurrent with it has arrived here.
    public var frontier: VersionVector
    /// Member -> why it holds the frontier back (silent, behind, ahead of what arrived here).
    public var blockers: [String: String]
    /// What collecting through the frontier would remove now.
    public var tombstones: Int
    public var dots: Int
}

extension ReplicatedState {
    /// The members that have not been decommissioned.
    public var currentMembers: [String] {
        members.filter { $0.value.decommissionedAfter == nil }.keys.sorted()
    }

    /// The causally stable frontier as replica `me` sees it.
    public func stability(of me: String) -> Stability {
        var blockers: [String: String] = [:]
        let current = currentMembers
        var acks: [(String, VersionVector)] = []
        for member in current {
            let ack = member == me ? vector : (acknowledged[member] ?? VersionVector())
            if member != me, ack[member] > vector[member] {
                blockers[member] = "reported \(ack[member]) operations of its own; \(vector[member]) have arrived here"
            }
            acks.append((member, ack))
        }
        if !current.contains(me) { blockers[me] = "this replica has not joined (it joins with its first write or pull)" }
        var frontier = acks.first?.1 ?? VersionVector()
        for (_, ack) in acks.dropFirst() { frontier = frontier.meeting(ack) }
        for (replica, count) in vector.counters.sorted(by: { $0.key < $1.key }) where frontier[replica] < count {
            for (member, ack) in acks where ack[replica] == frontier[replica] && blockers[member] == nil {
                blockers[member] = ack.counters.isEmpty ? "has acknowledged nothing (silent: decommission it to let collection go on)"
                    : "has seen \(ack[replica]) of \(replica)'s \(count) operations"
            }
        }
        if blockers.values.contains(where: { $0.hasPrefix("reported") || $0.hasPrefix("this replica") }) { frontier = collected }
        var scratch = self
        let (tombstones, dots) = scratch.collect(through: frontier)
        return Stability(frontier: frontier, blockers: blockers, tombstones: tombstones, dots: dots)
    }

    /// Compacts what is causally stable through `stable`: the dots of stable values (any later
    /// write covers them) and registers deleted for good. Never changes a visible value.
    @discardableResult
    public mutating func collect(through stable: VersionVector) -> (tombstones: Int, dots: Int) {
        var tombstones = 0, dots = 0
        for (name, keys) in maps {
            var kept = keys
            for (key, var entry) in keys {
                for i in entry.siblings.indices {
                    if let dot = entry.siblings[i].dot, stable.contains(dot) {
                        entry.siblings[i].dot = nil
                        dots += 1
                    }
                }
                for (element, var held) in entry.elements {
                    let before = held.dots.count
                    held.dots.removeAll { stable.contains($0) }
                    if held.dots.count < before {
                        dots += before - held.dots.count
                        held.stable = true
                        entry.elements[element] = held
                    }
                }
                if entry.strategy.isRegister, entry.isTombstone, entry.siblings.allSatisfy({ $0.dot == nil }) {
                    kept[key] = nil
                    tombstones += 1
                } else {
                    kept[key] = entry
                }
            }
            maps[name] = kept.isEmpty ? nil : kept
        }
        collected = collected.merging(stable)
        tombstonesRemoved.addSaturated(UInt64(tombstones))
        dotsCompacted.addSaturated(UInt64(dots))
        return (tombstones, dots)
    }

    /// The state as readers see it: per map and key the live values and whether a manual
    /// conflict is open.
    /// Replicas that delivered the same operations have the same visible state.
    public var visible: EventValue {
        var out: [String: EventValue] = [:]
        for (name, keys) in maps {
            var rendered: [String: EventValue] = [:]
            for (key, entry) in keys where !entry.isTombstone {
                let values = entry.values
                var fields: [String: EventValue] = ["strategy": .string(entry.strategy.rawValue), "values": .array(values)]
                if entry.hasOpenConflict { fields["conflict"] = true }
                rendered[key] = .map(fields)
            }
            if !rendered.isEmpty { out[name] = .map(rendered) }
        }
        return .map(out)
    }

    /// SHA-256 of the visible state's canonical CBOR: equal on replicas that converged.
    public var digest: Digest {
        (try? Digest.sha256(CBORWriter.encode(visible))) ?? .zero
    }
}
