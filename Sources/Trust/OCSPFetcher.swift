import COpenSSL
import EventStore
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What fetching an OCSP response for one validation gave, and how, for the verdict.
public struct OCSPFetch: Sendable {
    public enum Outcome: Sendable {
        /// A successful response (still to be verified by the validator).
        case response(OCSPResponse)
        /// An answer that is no usable response: not OCSP, not `successful`, or a nonce that
        /// does not match the request's.
        case invalid(String)
        /// No answer: refused, timed out, an HTTP error, or no responder URL at all.
        case unreachable(String)
    }

    public var outcome: Outcome
    /// The responder asked (empty when there was none to ask).
    public var url: String
    /// The response came from the cache, not the network.
    public var fromCache = false
    /// `echoed`, `absent` (the responder sent none back), `mismatch`, or empty when cached.
    public var nonce = ""
    /// Soft-fail lets a validation pass without an answer; hard-fail rejects it.
    public var softFail: Bool

    /// The verdict's `ocsp_fetch` record.
    var record: [String: String] {
        var fields = ["url": url, "source": fromCache ? "cache" : "network", "policy": softFail ? "soft_fail" : "hard_fail"]
        if !nonce.isEmpty { fields["nonce"] = nonce }
        switch outcome {
        case .response: break
        case .invalid(let message): fields["error"] = message
        case .unreachable(let message): fields["error"] = message
        }
        return fields
    }
}

/// Fetches OCSP responses (RFC 6960) over HTTP POST, from the certificate's AIA responder or a
/// configured one, with a fresh nonce (RFC 8954) and a timeout, and keeps each response until
/// its nextUpdate by the injected clock.
public final class OCSPFetcher: @unchecked Sendable {
    // @unchecked: the cache is read and written under `lock`; the rest is immutable.
    /// Used instead of the certificate's AIA URL when set.
    public let responderURL: URL?
    public let timeoutSeconds: Double
    public let softFail: Bool
    private let session: URLSession
    private let lock = Mutex()
    private var cache: [String: (response: OCSPResponse, until: Int64)] = [:]

    public init(responderURL: URL? = nil, timeoutSeconds: Double = 5, softFail: Bool = false) {
        self.responderURL = responderURL
        self.timeoutSeconds = timeoutSeconds
        self.softFail = softFail
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        session = URLSession(configuration: configuration)
    }

    /// The cached or fetched response for `certificate` (issued by `issuer`) at `time`.
    public func fetch(for certificate: Certificate, issuer: Certificate, at time: Timestamp) async -> OCSPFetch {
        let key = Self.cacheKey(certificate, issuer: issuer)
        guard let url = responderURL ?? certificate.ocspURLs.compactMap(URL.init(string:)).first else {
            return OCSPFetch(outcome: .unreachable("no OCSP responder: the certificate names none and none is configured"), url: "", softFail: softFail)
        }
        var result = OCSPFetch(outcome: .unreachable(""), url: url.absoluteString, softFail: softFail)
        if let cached = lock.withLock({ cache[key] }), time.seconds <= cached.until {
            result.outcome = .response(cached.response)
            result.fromCache = true
            return result
        }
        let request: OCSPRequest
        do { request = try OCSPRequest(certificate: certificate, issuer: issuer) } catch {
            result.outcome = .invalid("cannot build a request: \(error)")
            return result
        }
        let body: [UInt8]
        do { body = try await post(request.der, to: url) } catch {
            result.outcome = .unreachable(error.description)
            return result
        }
        let response: OCSPResponse
        do { response = try OCSPResponse(der: body) } catch {
            result.outcome = .invalid("not a successful OCSP response (\(body.count) bytes)")
            return result
        }
        result.nonce = request.nonceCheck(response)
        guard result.nonce != "mismatch" else {
            result.outcome = .invalid("the response's nonce is not the request's")
            return result
        }
        result.outcome = .response(response)
        if let until = response.nextUpdate(for: certificate, issuer: issuer) { lock.withLock { cache[key] = (response, until) } }
        return result
    }

    /// Responses held, for tests and status.
    public var cachedCount: Int { lock.withLock { cache.count } }

    /// CertID's parts: the issuer's name and the serial (the issuer's key follows from them).
    static func cacheKey(_ certificate: Certificate, issuer: Certificate) -> String {
        "\(X509_NAME_hash_ex(X509_get_subject_name(issuer.x509), nil, nil, nil))/\(certificate.serial)"
    }

    /// Why a POST failed.
    struct TransportError: Error, CustomStringConvertible {
        let description: String
    }

    private func post(_ body: [UInt8], to url: URL) async throws(TransportError) -> [UInt8] {
        var request = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        request.httpMethod = "POST"
        request.setValue("application/ocsp-request", forHTTPHeaderField: "Content-Type")
        request.setValue("application/ocsp-response", forHTTPHeaderField: "Accept")
        request.httpBody = Data(body)
        let data: Data, response: URLResponse
        do { (data, response) = try await session.data(for: request) } catch {
            throw TransportError(description: "\(url.absoluteString): \(error.localizedDescription)")
        }
        guard let status = (response as? HTTPURLResponse)?.statusCode, status == 200 else {
            throw TransportError(description: "\(url.absoluteString): HTTP \((response as? HTTPURLResponse)?.statusCode ?? 0)")
        }
        guard data.count <= PEM.maximumBytes else { throw TransportError(description: "\(url.absoluteString): a \(data.count)-byte answer") }
        return Array(data)
    }
}

/// One OCSP request (RFC 6960 4.1) for a certificate, with a random nonce.
final class OCSPRequest {
    private let request: OpaquePointer
    let der: [UInt8]

    init(certificate: Certificate, issuer: Certificate) throws(CertificateError) {
        guard let request = OCSP_REQUEST_new() else { throw .malformedCertificate }
        guard let id = OCSP_cert_to_id(nil, certificate.x509, issuer.x509), OCSP_request_add0_id(request, id) != nil,
              OCSP_request_add1_nonce(request, nil, -1) == 1 else {
            OCSP_REQUEST_free(request)
            ERR_clear_error()
            throw .malformedCertificate
        }
        self.request = request
        let length = i2d_OCSP_REQUEST(request, nil)
        var der = [UInt8](repeating: 0, count: Int(max(length, 0)))
        der.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_OCSP_REQUEST(request, &cursor)
        }
        self.der = der
    }

    deinit { OCSP_REQUEST_free(request) }

    /// `echoed`, `absent` (the response carries none) or `mismatch`.
    func nonceCheck(_ response: OCSPResponse) -> String {
        defer { ERR_clear_error() }
        switch OCSP_check_nonce(request, response.basic) {
        case 1: return "echoed"
        case -1: return "absent"
        default: return "mismatch"
        }
    }
}

extension Certificate {
    /// The OCSP responder URLs of the authorityInfoAccess extension.
    public var ocspURLs: [String] {
        guard let urls = X509_get1_ocsp(x509) else { return [] }
        defer { X509_email_free(urls) }
        return (0..<max(0, OPENSSL_sk_num(urls))).compactMap { index in
            OPENSSL_sk_value(urls, index).map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
        }
    }
}
