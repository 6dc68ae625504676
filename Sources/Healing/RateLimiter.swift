import EventStore

/// A sliding-window limit: at most `limit` attempts per `windowSeconds` per key.
public struct RateLimit: Sendable, Codable, Equatable {
    public var limit: Int
    public var windowSeconds: Int
    public init(limit: Int = 10, windowSeconds: Int = 60) {
        self.limit = limit
        self.windowSeconds = windowSeconds
    }
    var windowNanoseconds: Int64 { windowSeconds.secondsAsNanoseconds }
}

/// The attempts that reached the actuator within the window, per limiter key.
public struct LimiterWindow: Sendable, Codable, Equatable {
    /// Times (ns) of admitted attempts, oldest first.
    public var attempts: [Int64] = []
    public var windowSeconds: Int = 60
    /// The limit the last attempt was admitted under (0 when its event did not say). At least
    /// this many of the newest attempts are kept even once out of the window: a wall clock
    /// that jumps forward and then back brings them into the window again, and the limiter
    /// must still see them. Deciding needs no more: with `limit` attempts inside the window
    /// the next is refused, whatever lies further back.
    public var limit = 0
    public init() {}

    /// Attempts inside the window that ends at `now`.
    public func inWindow(now: Timestamp) -> Int {
        let start = now.nanoseconds.saturatingMinus(windowSeconds.secondsAsNanoseconds)
        // Attempts are in time order: binary search for the first inside the window.
        var low = 0, high = attempts.count
        while low < high {
            let mid = (low + high) / 2
            if attempts[mid] > start { high = mid } else { low = mid + 1 }
        }
        return attempts.count - low
    }

    /// Records an admitted attempt and forgets those that slid out of the window, keeping at
    /// least the newest `limit`.
    public mutating func record(at time: Int64, windowSeconds: Int, limit: Int? = nil) {
        self.windowSeconds = windowSeconds
        if let limit { self.limit = limit }
        let start = time.saturatingMinus(windowSeconds.secondsAsNanoseconds)
        let expired = attempts.prefix { $0 <= start }.count
        attempts.removeFirst(max(0, min(expired, attempts.count + 1 - self.limit)))
        // Kept in time order (a wall clock that stepped back inserts in place).
        if let last = attempts.last, last > time {
            attempts.insert(time, at: attempts.firstIndex { $0 > time } ?? attempts.endIndex)
        } else {
            attempts.append(time)
        }
    }
}

/// Limits per action kind (rollback compensations use their own key, `rollback`).
public struct RateLimits: Sendable, Codable, Equatable {
    public var byKind: [String: RateLimit] = [:]
    public var fallback = RateLimit()
    public var compensations = RateLimit(limit: 100, windowSeconds: 60)
    public init() {}

    public func limit(for key: String) -> RateLimit {
        key == "rollback" ? compensations : byKind[key] ?? fallback
    }
}
