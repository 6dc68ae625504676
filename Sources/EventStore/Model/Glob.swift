/// A pattern where `*` matches any run of characters and `?` any one; nothing else is special
/// (so OPA's `glob.match` with a delimiter that never occurs reads it the same way); for policy
/// and runbook patterns.
public struct Glob: Sendable, Hashable, CustomStringConvertible {
    public let pattern: String
    private let characters: [Character]

    /// Nil when the pattern uses characters OPA's glob would read differently.
    public init?(_ pattern: String) {
        guard !pattern.contains(where: { "[]{}\\!".contains($0) }) else { return nil }
        self.pattern = pattern
        characters = Array(pattern)
    }

    public var description: String { pattern }

    public func matches(_ text: String) -> Bool {
        let subject = Array(text)
        // Iterative wildcard matching with one backtrack point: linear in practice, never exponential.
        var p = 0, s = 0, star = -1, mark = 0
        while s < subject.count {
            if p < characters.count, characters[p] == "?" || characters[p] == subject[s] {
                p += 1; s += 1
            } else if p < characters.count, characters[p] == "*" {
                star = p; mark = s; p += 1
            } else if star >= 0 {
                p = star + 1; mark += 1; s = mark
            } else {
                return false
            }
        }
        while p < characters.count, characters[p] == "*" { p += 1 }
        return p == characters.count
    }

    public static func == (a: Glob, b: Glob) -> Bool { a.pattern == b.pattern }
    public func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}
