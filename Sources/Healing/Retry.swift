import EventStore

/// Exponential backoff with a cap and jitter. Delays are drawn from a generator seeded by
/// (engine seed, action id, attempt), so a replay or a restarted engine draws the same ones.
public struct RetryPolicy: Sendable, Codable, Equatable {
    public enum Jitter: String, Sendable, Codable, CaseIterable { case none, full, equal, decorrelated }

    public var maxAttempts = 4
    public var baseMilliseconds = 200
    public var capMilliseconds = 10_000
    public var jitter = Jitter.full
    /// No attempt starts after this much time since the first one.
    public var maxElapsedMilliseconds = 60_000

    public init(maxAttempts: Int = 4, baseMilliseconds: Int = 200, capMilliseconds: Int = 10_000,
                jitter: Jitter = .full, maxElapsedMilliseconds: Int = 60_000) {
        self.maxAttempts = maxAttempts
        self.baseMilliseconds = baseMilliseconds
        self.capMilliseconds = capMilliseconds
        self.jitter = jitter
        self.maxElapsedMilliseconds = maxElapsedMilliseconds
    }

    /// The exponential delay before `attempt + 1`, without jitter: base · 2^(attempt-1), capped.
    public func ceiling(afterAttempt attempt: Int) -> Int {
        let exponent = min(max(attempt - 1, 0), 30)
        return min(capMilliseconds, baseMilliseconds << exponent)
    }

    /// The delay in milliseconds after failed `attempt` (from 1); `previous` is the delay
    /// before this attempt (decorrelated jitter grows from it).
    public func delay(afterAttempt attempt: Int, previous: Int, seed: UInt64, actionID: String) -> Int {
        var rng = SplitMix64(seed: RetryPolicy.mix(seed, actionID, attempt))
        func uniform(_ low: Int, _ high: Int) -> Int {
            guard high > low else { return low }
            return low + Int(rng.next() % UInt64(high - low + 1))
        }
        let ceiling = ceiling(afterAttempt: attempt)
        switch jitter {
        case .none: return ceiling
        case .full: return uniform(0, ceiling)
        case .equal: return ceiling / 2 + uniform(0, ceiling - ceiling / 2)
        case .decorrelated:
            let upper = min(capMilliseconds, max(baseMilliseconds, previous * 3))
            return min(capMilliseconds, uniform(baseMilliseconds, max(baseMilliseconds, upper)))
        }
    }

    /// Whether another attempt may follow failed `attempt`, `elapsed` ms after the first began.
    public func allowsRetry(afterAttempt attempt: Int, retryable: Bool, elapsedMilliseconds: Int, nextDelay: Int) -> Bool {
        retryable && attempt < maxAttempts && elapsedMilliseconds + nextDelay <= maxElapsedMilliseconds
    }

    /// A stable 64-bit mix of the seed, the action id and the attempt (FNV-1a, then SplitMix).
    static func mix(_ seed: UInt64, _ actionID: String, _ attempt: Int) -> UInt64 {
        var hash: UInt64 = 0xcbf29ce484222325 ^ seed
        for byte in actionID.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100000001b3
        }
        hash ^= UInt64(attempt) &* 0x9E3779B97F4A7C15
        var rng = SplitMix64(seed: hash)
        return rng.next()
    }
}
