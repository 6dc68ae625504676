import EventStore
import Foundation
import Testing
import Trust

/// The conformance corpora of ../shared/corpora (outside the repository; see its README).
enum Corpora {
    /// `RECOVERY_CORPORA`, else `../shared/corpora` beside the project root.
    static var directory: URL? {
        if let path = ProcessInfo.processInfo.environment["RECOVERY_CORPORA"] { return URL(fileURLWithPath: path) }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let beside = root.deletingLastPathComponent().appendingPathComponent("shared/corpora")
        return FileManager.default.fileExists(atPath: beside.path) ? beside : nil
    }

    static var available: Bool { directory != nil }

    static func cases(_ file: String) throws -> [[String: EventValue]] {
        let url = try #require(directory).appendingPathComponent(file)
        guard case .array(let items) = try JSONParser.parse(Array(try Data(contentsOf: url))) else { return [] }
        return items.compactMap(\.mapValue)
    }
}

@Suite("SPIFFE IDs")
struct SPIFFEIDTests {
    @Test("the standard's rules, each with its error class")
    func rules() throws {
        let id = try SPIFFEID(parsing: "spiffe://example.org/ns/prod/sa/api")
        #expect(id.trustDomain == "example.org" && id.path == "/ns/prod/sa/api" && id.description == "spiffe://example.org/ns/prod/sa/api")
        #expect(try SPIFFEID(parsing: "spiffe://example.org").isTrustDomainID)
        let refused: [(String, SPIFFEIDError)] = [
            ("", .empty), ("SPIFFE://example.org/a", .wrongScheme), ("https://example.org/a", .wrongScheme),
            ("spiffe:///a", .missingTrustDomain), ("spiffe://Example.org/a", .badTrustDomainCharacter),
            ("spiffe://example.org:8443/a", .badTrustDomainCharacter), ("spiffe://user@example.org/a", .badTrustDomainCharacter),
            ("spiffe://example.org//a", .emptySegment), ("spiffe://example.org/a/", .trailingSlash), ("spiffe://example.org/", .trailingSlash),
            ("spiffe://example.org/a/./b", .dotSegment), ("spiffe://example.org/..", .dotSegment),
            ("spiffe://example.org/a?x=1", .badPathCharacter), ("spiffe://example.org/a#f", .badPathCharacter),
            ("spiffe://example.org/" + String(repeating: "a", count: 2_100), .tooLong(bytes: 2_121)),
        ]
        for (text, error) in refused {
            #expect(throws: error, "\(text.prefix(40))") { try SPIFFEID(parsing: text) }
        }
        #expect(try SPIFFEID(parsing: "spiffe://example.org/" + String(repeating: "a", count: 2_027)).path.count == 2_028)
        #expect(try SPIFFEID(trustDomain: "example.org", segments: ["a", "b"]).description == "spiffe://example.org/a/b")
    }

    @Test("every SPIFFE ID, trust domain and path case of the conformance corpus agrees on validity and error class",
          .enabled(if: Corpora.available, "needs ../shared/corpora or RECOVERY_CORPORA"))
    func corpus() throws {
        var checked = 0, disagreements: [String] = []
        func compare(_ label: String, _ item: [String: EventValue], _ body: () throws(SPIFFEIDError) -> String?) {
            checked += 1
            let expected = item["error"]?.stringValue
            do {
                let result = try body()
                if expected != nil { disagreements.append("\(label): accepted, expected '\(expected ?? "")'") }
                if let want = item["result"]?.stringValue ?? item["trust_domain"]?.stringValue, let result, result != want {
                    disagreements.append("\(label): gave \(result), expected \(want)")
                }
            } catch {
                if expected != error.description { disagreements.append("\(label): '\(error)', expected '\(expected ?? "valid")'") }
            }
        }
        for item in try Corpora.cases("spiffeid/cases.json") {
            let text = item["id"]?.stringValue ?? ""
            compare("id \(text.debugDescription)", item) { () throws(SPIFFEIDError) in try SPIFFEID(parsing: text).trustDomain }
        }
        for item in try Corpora.cases("spiffeid/trustdomain-cases.json") {
            let text = item["input"]?.stringValue ?? ""
            compare("trust domain \(text.debugDescription)", item) { () throws(SPIFFEIDError) in try SPIFFEID.trustDomain(parsing: text) }
        }
        for item in try Corpora.cases("spiffeid/path-cases.json") {
            let api = item["api"]?.stringValue ?? ""
            let segments: [String] = { if case .array(let values)? = item["input"] { return values.compactMap(\.stringValue) } else { return [] } }()
            let text = item["input"]?.stringValue ?? ""
            compare("\(api) \(item["input"].map(JSONWriter.encode) ?? "")", item) { () throws(SPIFFEIDError) -> String? in
                switch api {
                case "ValidatePath": try SPIFFEID.validatePath(text); return nil
                case "ValidatePathSegment": try SPIFFEID.validatePathSegment(text); return nil
                default: return try SPIFFEID.joinPathSegments(segments)
                }
            }
        }
        #expect(checked == 550 + 310 + 26)
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements: \(disagreements.prefix(5))")
    }
}
