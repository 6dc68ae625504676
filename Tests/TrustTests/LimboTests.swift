import EventStore
import Foundation
import Testing
import Trust

/// x509-limbo (../shared/corpora/x509-limbo): every path-validation case through the chain
/// validator in its generic profile, pass counts per namespace beside OpenSSL 3.0.22's.
@Suite("x509-limbo conformance")
struct LimboTests {
    /// Namespaces where we must do at least as well as OpenSSL.
    static let guarded = ["rfc5280", "crl", "pathlen", "pathological", "cve"]
    /// Cases OpenSSL gets wrong that we must get right.
    static let mustPass = ["crl::crlnumber-missing", "rfc5280::validity::notafter-exact"]

    enum Outcome: Equatable { case pass, fail(String), skipped(String) }

    @Test("every case runs; per namespace at least OpenSSL's pass count where it matters",
          .enabled(if: Corpora.available, "needs ../shared/corpora or RECOVERY_CORPORA"))
    func corpus() throws {
        let base = try #require(Corpora.directory).appendingPathComponent("x509-limbo")
        let limbo = try JSONParser.parse(Array(Data(contentsOf: base.appendingPathComponent("limbo.json"))))
        let openssl = try JSONParser.parse(Array(Data(contentsOf: base.appendingPathComponent("results/openssl-3.0.22.local.json"))))
        let cases = limbo["testcases"]?.arrayValue?.compactMap(\.mapValue) ?? []
        #expect(cases.count == 208)
        var expected: [String: String] = [:]
        for item in cases { expected[item["id"]?.stringValue ?? ""] = item["expected_result"]?.stringValue }
        var opensslPasses: [String: Int] = [:]
        for result in openssl["results"]?.arrayValue?.compactMap(\.mapValue) ?? [] {
            guard let id = result["id"]?.stringValue, result["actual_result"]?.stringValue == expected[id] else { continue }
            opensslPasses[Self.namespace(id), default: 0] += 1
        }
        let now = Timestamp(seconds: Int64(Date().timeIntervalSince1970))
        var outcomes: [String: Outcome] = [:]
        for item in cases { outcomes[item["id"]?.stringValue ?? "?"] = try Self.run(item, now: now) }

        var lines: [String] = []
        for namespace in Set(outcomes.keys.map(Self.namespace)).sorted() {
            let mine = outcomes.filter { Self.namespace($0.key) == namespace }
            let passed = mine.values.filter { $0 == .pass }.count
            let skipped = mine.values.filter { if case .skipped = $0 { true } else { false } }.count
            lines.append("\(namespace): \(passed)/\(mine.count) pass, \(skipped) skipped; OpenSSL 3.0.22 \(opensslPasses[namespace] ?? 0)")
            if Self.guarded.contains(namespace) {
                #expect(passed >= opensslPasses[namespace] ?? 0, "\(namespace): \(passed) < OpenSSL's \(opensslPasses[namespace] ?? 0)")
            }
        }
        print("x509-limbo, generic profile:\n  " + lines.joined(separator: "\n  "))
        for (id, outcome) in outcomes.sorted(by: { $0.key < $1.key }) where outcome != .pass {
            print("  \(id): \(outcome)")
        }
        for id in Self.mustPass { #expect(outcomes[id] == .pass, "\(id): \(String(describing: outcomes[id]))") }
    }

    static func namespace(_ id: String) -> String { String(id.prefix { $0 != ":" }) }

    /// One case through `ChainValidator` with SPIFFE rules off.
    static func run(_ item: [String: EventValue], now: Timestamp) throws -> Outcome {
        guard let peer = item["peer_certificate"]?.stringValue else { return .skipped("no peer certificate") }
        let anchors = try (item["trusted_certs"]?.arrayValue ?? []).compactMap(\.stringValue).flatMap { try PEM.certificates(Array($0.utf8)) }
        let intermediates = try (item["untrusted_intermediates"]?.arrayValue ?? []).compactMap(\.stringValue)
            .flatMap { try PEM.certificates(Array($0.utf8)) }
        let leaf: Certificate
        do {
            guard let first = try PEM.certificates(Array(peer.utf8)).first else { return verdict(rejected: true, item, "no certificate") }
            leaf = first
        } catch {
            return verdict(rejected: true, item, "\(error)")
        }
        var validator = ChainValidator(bundles: ["limbo": anchors])
        validator.spiffeRules = false
        validator.crls = try (item["crls"]?.arrayValue ?? []).compactMap(\.stringValue).map { try RevocationList(bytes: Array($0.utf8)) }
        let usages = (item["extended_key_usage"]?.arrayValue ?? []).compactMap(\.stringValue)
        if usages.contains("serverAuth") { validator.requirements.purpose = .serverAuth }
        if usages.contains("clientAuth") { validator.requirements.purpose = .clientAuth }
        if let depth = item["max_chain_depth"]?.intValue { validator.requirements.maxDepth = Int(depth) }
        if let name = item["expected_peer_name"]?.mapValue, let value = name["value"]?.stringValue {
            switch name["kind"]?.stringValue {
            case "DNS": validator.requirements.peerName = .dns(value)
            case "IP": validator.requirements.peerName = .ip(value)
            default: return .skipped("peer name of kind \(name["kind"]?.stringValue ?? "?")")
            }
        }
        let time = try item["validation_time"]?.stringValue.map { text -> Timestamp in
            let fractional = ISO8601DateFormatter()
            fractional.formatOptions.insert(.withFractionalSeconds)
            let date = try #require(ISO8601DateFormatter().date(from: text) ?? fractional.date(from: text), "validation time \(text)")
            return Timestamp(seconds: Int64(date.timeIntervalSince1970.rounded(.down)))
        } ?? now
        let result = validator.validate(leaf: leaf, intermediates: intermediates, at: time)
        return verdict(rejected: !result.trusted, item, result.reasons.map(\.rawValue).joined(separator: ","))
    }

    static func verdict(rejected: Bool, _ item: [String: EventValue], _ detail: String) -> Outcome {
        let expectRejection = item["expected_result"]?.stringValue == "FAILURE"
        return rejected == expectRejection ? .pass : .fail(rejected ? "rejected: \(detail)" : "accepted")
    }
}
