extension FixedWidthInteger {
    /// `self + other`, held at the ends of the type's range instead of trapping. For counts and
    /// sums over values from outside (a log, a snapshot, a peer), where an overflow must not
    /// stop an agent and a count at the limit is as good as any.
    @inlinable
    public func addingSaturated(_ other: Self) -> Self {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }

    /// Adds `other` in place, held at the ends of the range (see `addingSaturated`).
    @inlinable
    public mutating func addSaturated(_ other: Self) { self = addingSaturated(other) }
}
