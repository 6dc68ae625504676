/// A Prometheus histogram over milliseconds, kept in whole milliseconds so that replaying the
/// same events gives byte-identical state (no floating-point sums).
public struct Histogram: Sendable, Codable, Equatable {
    /// Upper bounds in milliseconds; rendered in seconds.
    public static let boundsMilliseconds: [Int64] = [5, 10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000]

    /// Observations at or below each bound (not cumulative; the renderer accumulates).
    public var buckets: [UInt64] = Array(repeating: 0, count: Histogram.boundsMilliseconds.count)
    public var count: UInt64 = 0
    public var sumMilliseconds: Int64 = 0

    public init() {}

    public mutating func observe(milliseconds: Int64) {
        let value = max(0, milliseconds)
        if let index = Self.boundsMilliseconds.firstIndex(where: { value <= $0 }), index < buckets.count { buckets[index] &+= 1 }
        count &+= 1
        sumMilliseconds = sumMilliseconds.addingReportingOverflow(value).overflow ? Int64.max : sumMilliseconds + value
    }
}
