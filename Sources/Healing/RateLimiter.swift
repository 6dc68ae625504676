import EventStore

/// A sliding-window limit: at most `limit` attempts per `windowSeconds` per key.
public struct RateLimit: Sendable, Codable, Equatable {
    public var limit: Int
    public var windowSeconds: Int
    public init(limit: Int = 10, windowSeconds: Int = 60) {
        self.limit = limit
        self.windowSeconds = windowSeconds
    }
    var windowNanoseconds: Int64 { Int64(windowSeconds) * 1_000_000_000 }
}

/// The attempts that reached the actuator within the window, per limiter key.
public struct LimiterWindow: Sendable, Codable, Equatable {
    /// Times (ns) of admitted attempts, oldest first.
    public var attempts: [Int64] = []
    public var windowSeconds: Int = 60
    public init() {}

    /// Attempts inside the window that ends at `now`.
    public func inWindow(now: Timestamp) -> Int {
        let start = now.nanoseconds - Int64(windowSeconds) * 1_000_000_000
        return attempts.filter { $0 > start }.count
    }

    /// Records an admitted attempt and forgets those that slid out of the window.
    public mutating func record(at time: Int64, windowSeconds: Int) {
        self.windowSeconds = windowSeconds
        let start = time - Int64(windowSeconds) * 1_000_000_000
        attempts.removeAll { $0 <= start }
        attempts.append(time)
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
