#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A point in physical time: nanoseconds since the Unix epoch, UTC.
///
/// Foundation's `Date` has a resolution of about 100 ns, which would make exported times differ
/// from stored ones; the log keeps the integer nanoseconds.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }
    /// Whole seconds since the epoch, saturating at the ends of the range (about 1677 to 2262).
    public init(seconds: Int64) {
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        self.nanoseconds = overflow ? (seconds > 0 ? .max : .min) : scaled
    }

    /// Microseconds since the epoch, the unit of the hybrid logical clock's wall component.
    public var microseconds: Int64 { nanoseconds.dividedFloor(by: 1_000) }
    /// Whole seconds since the epoch, rounded down (X.509 times have this resolution).
    public var seconds: Int64 { nanoseconds.dividedFloor(by: 1_000_000_000) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.nanoseconds < b.nanoseconds }

    public func adding(nanoseconds delta: Int64) -> Timestamp {
        Timestamp(nanoseconds: nanoseconds.addingReportingOverflow(delta).overflow
            ? (delta > 0 ? .max : .min) : nanoseconds + delta)
    }

    /// RFC 3339 in UTC with nine fraction digits, e.g. `2026-11-29T06:08:19.123456789Z`.
    public var description: String { rfc3339 }

    public var rfc3339: String {
        let seconds = nanoseconds.dividedFloor(by: 1_000_000_000)
        // Not `nanoseconds - seconds * 1e9`: at the earliest time that product overflows.
        let remainder = nanoseconds % 1_000_000_000
        let fraction = remainder < 0 ? remainder + 1_000_000_000 : remainder
        let days = seconds.dividedFloor(by: 86_400)
        let secondOfDay = seconds - days * 86_400
        let (year, month, day) = CivilCalendar.civil(fromDays: days)
        var text = ""
        text.reserveCapacity(30)
        text += padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2)
        text += "T" + padded(secondOfDay / 3600, 2) + ":" + padded(secondOfDay % 3600 / 60, 2)
        text += ":" + padded(secondOfDay % 60, 2) + "." + padded(fraction, 9) + "Z"
        return text
    }

    /// Parses RFC 3339 (`2026-11-29T06:08:19Z`, fractions up to nanoseconds, `Z` or `±hh:mm`).
    public init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        var i = 0
        func number(_ width: Int) -> Int64? {
            guard i + width <= b.count else { return nil }
            var value: Int64 = 0
            for _ in 0..<width {
                let c = b[i]
                guard c >= 48 && c <= 57 else { return nil }
                value = value * 10 + Int64(c - 48)
                i += 1
            }
            return value
        }
        func expect(_ chars: String) -> Bool {
            guard i < b.count, chars.utf8.contains(b[i]) else { return false }
            i += 1
            return true
        }
        guard let year = number(4), expect("-"), let month = number(2), expect("-"),
              let day = number(2), expect("Tt "), let hour = number(2), expect(":"),
              let minute = number(2), expect(":"), let second = number(2) else { return nil }
        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction: Int64 = 0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 9 { fraction = fraction * 10 + Int64(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in digits..<max(digits, 9) { fraction *= 10 }
        }
        var offsetSeconds: Int64 = 0
        guard i < b.count else { return nil }
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else {
            let sign: Int64 = b[i] == UInt8(ascii: "-") ? -1 : 1
            guard expect("+-"), let oh = number(2), expect(":"), let om = number(2), oh < 24, om < 60
            else { return nil }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        }
        guard i == b.count else { return nil }
        let days = CivilCalendar.days(fromCivil: year, month, day)
        let total = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // Int64 nanoseconds end in 2262 (and begin in 1677): a time past either is refused,
        // also when only its fraction crosses the end.
        // Before 1970 the whole seconds alone can pass the lower end that the fraction brings
        // back inside: there, count from the next second down.
        let (whole, part) = total < 0 ? (total + 1, fraction - 1_000_000_000) : (total, fraction)
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: 1_000_000_000)
        let (nanoseconds, fractionOverflow) = scaled.addingReportingOverflow(part)
        guard !overflow, !fractionOverflow else { return nil }
        self.nanoseconds = nanoseconds
    }

    /// Parses a time given on a command line: RFC 3339, or relative to `now` (`-90s`, `-15m`,
    /// `-2h`, `-7d`). A time outside what the log can hold (1677 to 2262) is an error, never a
    /// trap, however large the number.
    public static func parse(argument text: String, now: Timestamp) throws(TimeArgumentError) -> Timestamp {
        if let absolute = Timestamp(rfc3339: text) { return absolute }
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard text.hasPrefix("-"), let unit = text.last, let seconds = units[unit],
              let amount = Int64(text.dropFirst().dropLast()), amount >= 0 else {
            throw TimeArgumentError(text: text, reason: "is neither an RFC 3339 time between 1677 and 2262 nor a relative one like -15m")
        }
        let (inSeconds, overflowA) = amount.multipliedReportingOverflow(by: seconds)
        let (nanoseconds, overflowB) = inSeconds.multipliedReportingOverflow(by: 1_000_000_000)
        let (time, overflowC) = now.nanoseconds.subtractingReportingOverflow(nanoseconds)
        guard !overflowA, !overflowB, !overflowC else {
            throw TimeArgumentError(text: text, reason: "reaches before 1677, the earliest time the log can hold")
        }
        return Timestamp(nanoseconds: time)
    }

    private func padded(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }
}

/// A command-line time that cannot be read or is out of range.
public struct TimeArgumentError: Error, Sendable, Equatable, CustomStringConvertible {
    public var text: String
    public var reason: String
    public var description: String { "'\(text)' \(reason)" }
}

extension Int64 {
    /// Division rounding towards negative infinity, so times before 1970 format correctly.
    func dividedFloor(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}

/// Proleptic Gregorian calendar arithmetic (Howard Hinnant's days-from-civil algorithms).
enum CivilCalendar {
    static func days(fromCivil year: Int64, _ month: Int64, _ day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = y.dividedFloor(by: 400)
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(fromDays days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = z.dividedFloor(by: 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// The source of physical time. Injected everywhere so that domain logic and replay are
/// deterministic and tests never sleep.
public protocol WallClock: Sendable {
    func now() -> Timestamp
}

/// The operating system's real-time clock.
public struct SystemClock: WallClock {
    public init() {}
    public func now() -> Timestamp {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Timestamp(nanoseconds: Int64(spec.tv_sec) * 1_000_000_000 + Int64(spec.tv_nsec))
    }
}

/// A clock that moves only when told to; for tests and simulations.
public final class ManualClock: WallClock, @unchecked Sendable {
    // @unchecked: every access to `current` goes through `lock`.
    private let lock = Mutex()
    private var current: Timestamp

    public init(_ start: Timestamp) { current = start }
    public func now() -> Timestamp { lock.withLock { current } }
    public func set(_ time: Timestamp) { lock.withLock { current = time } }
    public func advance(nanoseconds: Int64) { lock.withLock { current = current.adding(nanoseconds: nanoseconds) } }
}
