import EventStore
import Foundation
import Hummingbird
import Logging
import RecoveryEngine
import Replication
import ServiceLifecycle
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The HTTP endpoints of `recoveryctl serve`.
struct ServeRoutes: Sendable {
    let engine: RecoveryEngine
    let state: ServeState
    let maxBody: Int

    func add(to router: Router<BasicRequestContext>) {
        router.get("metrics") { _, _ -> Response in
            do {
                let text = try engine.metricsText() + state.exposition(nodeID: engine.store.nodeID)
                return Self.text(.ok, text, type: "text/plain; version=0.0.4; charset=utf-8")
            } catch {
                return Self.text(.internalServerError, "metrics: \(error)\n")
            }
        }
        router.get("healthz") { _, _ in Self.text(.ok, "ok\n") }
        // Ready once the projections have caught up with the log as it was at start; later
        // appends are applied at the next scrape.
        router.get("readyz") { _, _ in state.isReady ? Self.text(.ok, "ready\n") : Self.text(.serviceUnavailable, "catching up\n") }
        router.post("v1/sync") { request, _ -> Response in
            let format: SyncEndpoint.Format
            switch SyncEndpoint.format(request.headers[.contentType]) {
            case .some(let found): format = found
            case nil: return Self.text(.unsupportedMediaType, "POST /v1/sync takes application/octet-stream (binary) or application/json\n")
            }
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: maxBody) } catch {
                return Self.text(.contentTooLarge, "a sync request is at most \(maxBody) bytes\n")
            }
            let later = request.uri.queryParameters.get("continuation") == "1"
            switch SyncEndpoint.answer(Array(buffer: body), format: format, continuation: later, replica: engine.responder) {
            case .success(let bytes): return Response(status: .ok, headers: [.contentType: format.contentType], body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
            case .failure(let error): return Self.text(.badRequest, "bad sync request: \(error.description.split(separator: "\n").first ?? "")\n")
            }
        }
    }

    static func text(_ status: HTTPResponse.Status, _ body: String, type: String = "text/plain; charset=utf-8") -> Response {
        Response(status: status, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
    }
}

/// POST /v1/sync: a `SyncRequest` in, one page of `SyncResponse` out, through the Replication
/// module's decoding and validation; nothing changes on a malformed request.
enum SyncEndpoint {
    static let maximumBody = SyncLimits.maximumMessageBytes

    enum Format: Sendable {
        case binary, json
        var contentType: String { self == .json ? "application/json" : "application/octet-stream" }
    }

    /// The format a Content-Type names; nil for one the endpoint does not take. No header
    /// means binary.
    static func format(_ contentType: String?) -> Format? {
        guard let contentType else { return .binary }
        let type = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
        switch type {
        case "application/json": return .json
        case "application/octet-stream", "application/x-recovery-sync": return .binary
        default: return nil
        }
    }

    /// Decodes the request, answers it (later pages of one exchange, `continuation`, do not
    /// record an acknowledgement), encodes the answer.
    static func answer(_ bytes: [UInt8], format: Format, continuation: Bool, replica: SharedReplica) -> Result<[UInt8], ReplicationError> {
        do throws(ReplicationError) {
            let request = format == .json ? try SyncJSON.decodeRequest(bytes) : try SyncCoding.decodeRequest(bytes)
            let response = try replica.run { replica throws(ReplicationError) in try replica.respond(to: request, acknowledging: !continuation) }
            return .success(format == .json ? Array(SyncJSON.encode(response).utf8) : SyncCoding.encode(response))
        } catch {
            return .failure(error)
        }
    }
}

/// Pulls from a peer's POST /v1/sync, page by page (what `sync pull --from URL` and serve's
/// anti-entropy do). Blocking: run it off the async threads.
struct HTTPSyncClient {
    let base: URL
    let timeoutSeconds: Double

    /// One exchange's POST; its body, or an error naming the peer.
    func exchange(_ request: SyncRequest, continuation: Bool) throws -> [UInt8] {
        var url = base.appendingPathComponent("v1/sync")
        if continuation, var components = URLComponents(url: url, resolvingAgainstBaseURL: false) {
            components.queryItems = [URLQueryItem(name: "continuation", value: "1")]
            url = components.url ?? url
        }
        var post = URLRequest(url: url, timeoutInterval: timeoutSeconds)
        post.httpMethod = "POST"
        post.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        post.httpBody = Data(SyncCoding.encode(request))
        let box = ExchangeBox()
        let done = DispatchSemaphore(value: 0)
        URLSession.shared.dataTask(with: post) { data, response, error in
            box.set(data, response as? HTTPURLResponse, error)
            done.signal()
        }.resume()
        done.wait()
        let (data, response, error) = box.get()
        if let error { throw SyncTransportError(description: "\(base.absoluteString): \(error.localizedDescription)") }
        guard let response, response.statusCode == 200, let data else {
            let reason = data.map { String(decoding: $0.prefix(200), as: UTF8.self) } ?? ""
            throw SyncTransportError(description: "\(base.absoluteString): HTTP \(response?.statusCode ?? 0) \(reason)")
        }
        guard data.count <= SyncLimits.maximumMessageBytes else { throw SyncTransportError(description: "\(base.absoluteString): a \(data.count)-byte answer") }
        return Array(data)
    }

    /// Pulls everything the peer has for `replica`.
    func pull(into replica: Replica) throws(ReplicationError) -> Replica.Received {
        var pages = 0
        return try replica.pull { request in
            defer { pages += 1 }
            return try exchange(request, continuation: pages > 0)
        }
    }
}

/// A peer that could not be asked, or answered with an HTTP error.
struct SyncTransportError: Error, CustomStringConvertible {
    let description: String
}

private final class ExchangeBox: @unchecked Sendable {
    // @unchecked: written once by URLSession's callback before the semaphore is signalled.
    private var value: (Data?, HTTPURLResponse?, (any Error)?) = (nil, nil, nil)
    func set(_ data: Data?, _ response: HTTPURLResponse?, _ error: (any Error)?) { value = (data, response, error) }
    func get() -> (Data?, HTTPURLResponse?, (any Error)?) { value }
}

/// Anti-entropy: every interval, a pull from each peer; a peer that fails is logged, counted
/// and retried with exponential backoff (up to 32 intervals), never fatal.
struct AntiEntropy: Service {
    let engine: RecoveryEngine
    let peers: [URL]
    let interval: Duration
    let state: ServeState
    let logger: Logger

    func run() async throws {
        guard !peers.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        var failures = [Int](repeating: 0, count: peers.count)
        var due = [ContinuousClock.Instant](repeating: .now, count: peers.count)
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            for (index, peer) in peers.enumerated() where ContinuousClock.now >= due[index] {
                let client = HTTPSyncClient(base: peer, timeoutSeconds: 10)
                let result: Result<Replica.Received, any Error> = await withCheckedContinuation { continuation in
                    DispatchQueue.global().async {
                        continuation.resume(returning: Result { () throws -> Replica.Received in
                            try engine.replica.run { replica throws(ReplicationError) in try client.pull(into: replica) }
                        })
                    }
                }
                switch result {
                case .success(let received):
                    failures[index] = 0
                    state.recordPull(peer.absoluteString, succeeded: true)
                    if received.delivered > 0 { logger.info("pulled", metadata: ["peer": "\(peer)", "delivered": "\(received.delivered)"]) }
                    due[index] = .now + interval
                case .failure(let error):
                    failures[index] = min(failures[index] + 1, 5)
                    state.recordPull(peer.absoluteString, succeeded: false)
                    let backoff = interval * (1 << failures[index])
                    logger.warning("pull failed", metadata: ["peer": "\(peer)", "error": "\(error)", "retry_in": "\(backoff)"])
                    due[index] = .now + backoff
                }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
