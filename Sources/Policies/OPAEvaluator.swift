import EventStore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Decides through Open Policy Agent's Data API: `POST {server}/v1/data/{path}` with
/// `{"input": ...}`, answered `{"result": {"allow": BOOL, "rule": "ID"}}`. The Rego in
/// `policies/` gives the same decisions as the built-in rules. Every way the call can fail
/// denies (fails closed) under a rule that names it: `opa_unreachable` (no connection or the
/// timeout), `opa_status` (not 200), `opa_undefined` (no result: the path or rule does not
/// exist), `opa_malformed` (not JSON, or a result without a boolean `allow`).
public struct OPAEvaluator: PolicyEvaluator {
    public let server: URL
    /// The document path under `/v1/data`, as slashes (`recovery/mesh_actions/decision`).
    public let path: String
    public let timeoutSeconds: Double
    private let session: URLSession

    /// The largest answer read; a policy decision is a few hundred bytes.
    public static let maximumAnswerBytes = 1 << 20

    public init(server: URL, path: String, timeoutSeconds: Double = 2) {
        self.server = server
        self.path = path.split(separator: "/").joined(separator: "/")
        self.timeoutSeconds = timeoutSeconds
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        session = URLSession(configuration: configuration)
    }

    public var name: String { "opa" }

    public func decide(_ input: PolicyInput, under policy: PublishedPolicy) async -> PolicyDecision {
        let url = server.appendingPathComponent("v1/data").appendingPathComponent(path)
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(JSONWriter.encode(["input": input.value]).utf8)
        let data: Data, response: URLResponse
        do { (data, response) = try await session.data(for: request) } catch {
            return .failedClosed("opa_unreachable", "\(url.absoluteString): \(error.localizedDescription)")
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard status == 200 else { return .failedClosed("opa_status", "\(url.absoluteString): HTTP \(status)") }
        return Self.decision(fromAnswer: Array(data))
    }

    /// Reads a Data API answer (the body of a 200).
    public static func decision(fromAnswer bytes: [UInt8]) -> PolicyDecision {
        guard bytes.count <= maximumAnswerBytes, let answer = try? JSONParser.parse(bytes), case .map(let fields) = answer else {
            return .failedClosed("opa_malformed", "the answer is not a JSON object")
        }
        guard let result = fields["result"] else { return .failedClosed("opa_undefined", "the decision is undefined (no result)") }
        guard case .bool(let allowed)? = result["allow"] else {
            return .failedClosed("opa_malformed", "the result has no boolean allow")
        }
        let rule = result["rule"]?.stringValue ?? (allowed ? "allow" : "default")
        return PolicyDecision(allowed: allowed, rule: String(rule.prefix(128)))
    }
}
