/// A hybrid logical clock timestamp: physical microseconds plus a logical counter that orders
/// events which share a microsecond, or that happen while the wall clock stands still or jumps
/// backwards.
public struct HLC: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Microseconds since the Unix epoch.
    public var wall: Int64
    public var logical: UInt32

    public init(wall: Int64, logical: UInt32) {
        self.wall = wall
        self.logical = logical
    }

    public static let zero = HLC(wall: 0, logical: 0)

    public static func < (a: HLC, b: HLC) -> Bool {
        (a.wall, a.logical) < (b.wall, b.logical)
    }

    public var description: String { "\(wall):\(logical)" }

    /// The next local timestamp after `last` at physical time `now`.
    public static func tick(after last: HLC, now: Timestamp) -> HLC {
        let physical = now.microseconds
        if physical > last.wall { return HLC(wall: physical, logical: 0) }
        return last.successor
    }

    /// The smallest timestamp greater than `self`; the counter carries into the wall component
    /// rather than overflow.
    public var successor: HLC {
        logical == .max ? HLC(wall: wall + 1, logical: 0) : HLC(wall: wall, logical: logical + 1)
    }
}
