import EventStore

/// A time on the command line: RFC 3339, or relative to now (`-90s`, `-15m`, `-2h`, `-7d`).
enum TimeArgument {
    static func parse(_ text: String, option: String, now: Timestamp = SystemClock().now()) throws -> Timestamp {
        if let absolute = Timestamp(rfc3339: text) { return absolute }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if text.hasPrefix("-"), let unit = text.last, let seconds = units[unit],
           let amount = Int64(text.dropFirst().dropLast()), amount >= 0, amount < 100_000_000 {
            return now.adding(nanoseconds: -amount * seconds * 1_000_000_000)
        }
        throw CLIFailure.usage("\(option): '\(text)' is neither an RFC 3339 time nor a relative one like -15m")
    }
}
