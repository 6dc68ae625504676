import EventStore

/// A time on the command line: RFC 3339, or relative to now (`-90s`, `-15m`, `-2h`, `-7d`).
enum TimeArgument {
    static func parse(_ text: String, option: String, now: Timestamp = SystemClock().now()) throws -> Timestamp {
        do { return try Timestamp.parse(argument: text, now: now) } catch {
            throw CLIFailure.usage("\(option): \(error.description)")
        }
    }
}
