import EventStore

/// A time on the command line: RFC 3339, or relative to now (`-90s`, `-15m`, `-2h`, `-7d`).
enum TimeArgument {
    static func parse(_ text: String, option: String, now: Timestamp = SystemClock().now()) throws -> Timestamp {
        if let absolute = Timestamp(rfc3339: text) { return absolute }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if text.hasPrefix("-"), let unit = text.last, let seconds = units[unit],
           let amount = Int64(text.dropFirst().dropLast()), amount >= 0 {
            // Checked: `-99999999999d` must be an error, not a trap.
            let (inSeconds, overflowA) = amount.multipliedReportingOverflow(by: seconds)
            let (nanoseconds, overflowB) = inSeconds.multipliedReportingOverflow(by: 1_000_000_000)
            let (time, overflowC) = now.nanoseconds.subtractingReportingOverflow(nanoseconds)
            guard !overflowA, !overflowB, !overflowC else {
                throw CLIFailure.usage("\(option): '\(text)' reaches before 1677, the earliest time the log can hold")
            }
            return Timestamp(nanoseconds: time)
        }
        throw CLIFailure.usage("\(option): '\(text)' is neither an RFC 3339 time between 1677 and 2262 nor a relative one like -15m")
    }
}
