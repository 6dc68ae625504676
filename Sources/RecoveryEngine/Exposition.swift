/// Builds the Prometheus text exposition format 0.0.4: for every family a HELP and a TYPE line,
/// then its samples; label values escaped (backslash, double quote, newline).
public struct Exposition: Sendable {
    public enum Kind: String, Sendable { case counter, gauge, histogram }
    public typealias Labels = [(String, String)]

    public private(set) var text = ""

    public init() {}

    /// A counter or gauge family.
    public mutating func family(_ name: String, _ kind: Kind, help: String, _ samples: [(Labels, Double)]) {
        header(name, kind, help)
        for (labels, value) in samples { sample(name, labels, value) }
    }

    /// A histogram family over millisecond histograms, rendered in seconds.
    public mutating func histogram(_ name: String, help: String, _ series: [(Labels, Histogram)]) {
        header(name, .histogram, help)
        for (labels, histogram) in series {
            var cumulative: UInt64 = 0
            for (bound, count) in zip(Histogram.boundsMilliseconds, histogram.buckets) {
                cumulative &+= count
                sample(name + "_bucket", labels + [("le", Self.number(Double(bound) / 1_000))], Double(cumulative))
            }
            sample(name + "_bucket", labels + [("le", "+Inf")], Double(histogram.count))
            sample(name + "_sum", labels, Double(histogram.sumMilliseconds) / 1_000)
            sample(name + "_count", labels, Double(histogram.count))
        }
    }

    private mutating func header(_ name: String, _ kind: Kind, _ help: String) {
        text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
        text += "# TYPE \(name) \(kind.rawValue)\n"
    }

    private mutating func sample(_ name: String, _ labels: Labels, _ value: Double) {
        text += name
        let present = labels.filter { !$0.1.isEmpty }
        if !present.isEmpty {
            text += "{" + present.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.number(value) + "\n"
    }

    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    /// Integers without a fraction; others as Swift prints them; infinities as Prometheus does.
    static func number(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value > 0 ? "+Inf" : "-Inf" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return "\(value)"
    }
}
