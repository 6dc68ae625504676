import EventStore

/// One difference between two states, at a JSON Pointer path (RFC 6901: `/types/action.failed`;
/// `~` and `/` in keys are escaped as `~0` and `~1`).
public struct StateChange: Sendable, Hashable {
    public enum Kind: String, Sendable { case added, removed, changed }
    public let path: String
    public let kind: Kind
    public let old: EventValue?
    public let new: EventValue?

    public init(path: String, kind: Kind, old: EventValue?, new: EventValue?) {
        self.path = path
        self.kind = kind
        self.old = old
        self.new = new
    }
}

/// The structural difference between two states: maps are compared key by key, arrays index by
/// index; anything else that differs is one change. Changes come in path order.
public enum StateDiff {
    public static func between(_ old: EventValue, _ new: EventValue) -> [StateChange] {
        var changes: [StateChange] = []
        compare(old, new, path: "", into: &changes)
        return changes
    }

    private static func compare(_ old: EventValue, _ new: EventValue, path: String, into changes: inout [StateChange]) {
        switch (old, new) {
        case (.map(let a), .map(let b)):
            for key in Set(a.keys).union(b.keys).sorted() {
                let child = path + "/" + escape(key)
                switch (a[key], b[key]) {
                case (let x?, let y?): compare(x, y, path: child, into: &changes)
                case (let x?, nil): changes.append(StateChange(path: child, kind: .removed, old: x, new: nil))
                case (nil, let y?): changes.append(StateChange(path: child, kind: .added, old: nil, new: y))
                case (nil, nil): break
                }
            }
        case (.array(let a), .array(let b)):
            for index in 0..<max(a.count, b.count) {
                let child = path + "/\(index)"
                if index >= a.count {
                    changes.append(StateChange(path: child, kind: .added, old: nil, new: b[index]))
                } else if index >= b.count {
                    changes.append(StateChange(path: child, kind: .removed, old: a[index], new: nil))
                } else {
                    compare(a[index], b[index], path: child, into: &changes)
                }
            }
        default:
            if old != new { changes.append(StateChange(path: path.isEmpty ? "/" : path, kind: .changed, old: old, new: new)) }
        }
    }

    /// A map key as one JSON Pointer component.
    public static func escape(_ key: String) -> String {
        key.replacingOccurrences("~", with: "~0").replacingOccurrences("/", with: "~1")
    }
}

extension String {
    /// Foundation-free replacement.
    fileprivate func replacingOccurrences(_ target: String, with replacement: String) -> String {
        guard contains(target) else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
