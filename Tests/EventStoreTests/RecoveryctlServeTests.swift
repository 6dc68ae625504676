import EventStore
import Foundation
import TestKit
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// A `recoveryctl serve` process on 127.0.0.1 and a port the kernel picked (read from its
/// "listening on" line, waited for with a bound); stopped with SIGTERM or killed.
final class ServedNode: @unchecked Sendable {
    let store: String
    let arguments: [String]
    private var process = Process()
    private(set) var port = 0
    var url: String { "http://127.0.0.1:\(port)" }

    /// `port` 0: the kernel picks one.
    init(store: String, port: Int = 0, arguments: [String] = []) throws {
        self.store = store
        self.arguments = arguments
        self.port = port
        try start()
    }

    func start() throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: Executables.recoveryctl)
        process.arguments = ["serve", "--store", store, "--listen", "127.0.0.1:\(port)"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // `listening on HOST:PORT`.
        guard let line = firstLine(of: output, within: 30), let colon = line.lastIndex(of: ":"),
              let port = Int(line[line.index(after: colon)...].prefix { $0.isNumber }) else {
            process.terminate()
            throw POSIXError(.ETIMEDOUT)
        }
        self.port = port
    }

    /// SIGTERM, then its exit status (nil if it did not stop within 20 s).
    func stop() -> Int32? {
        guard process.isRunning else { return process.terminationStatus }
        kill(process.processIdentifier, SIGTERM)
        guard waitForExit(process, within: 20) else {
            kill(process.processIdentifier, SIGKILL)
            return nil
        }
        return process.terminationStatus
    }

    func killHard() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}

/// One HTTP request to loopback: status and body (status 0 when nothing answered).
func http(_ method: String, _ url: String, body: [UInt8]? = nil, contentType: String? = nil) -> (status: Int, body: [UInt8]) {
    guard let target = URL(string: url) else { return (0, []) }
    var request = URLRequest(url: target, timeoutInterval: 10)
    request.httpMethod = method
    if let body { request.httpBody = Data(body) }
    if let contentType { request.setValue(contentType, forHTTPHeaderField: "Content-Type") }
    let done = DispatchSemaphore(value: 0)
    let result = LockedResult()
    URLSession.shared.dataTask(with: request) { data, response, _ in
        result.set((response as? HTTPURLResponse)?.statusCode ?? 0, Array(data ?? Data()))
        done.signal()
    }.resume()
    done.wait()
    return result.get()
}

final class LockedResult: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Int, [UInt8]) = (0, [])
    func set(_ status: Int, _ body: [UInt8]) { lock.withLock { value = (status, body) } }
    func get() -> (status: Int, body: [UInt8]) { lock.withLock { value } }
}

/// Polls `condition`, which asks real processes (served nodes, a Prometheus server), every
/// 100 ms for at most `seconds`; the pause is a bounded wait on a semaphore nobody signals.
func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    let pause = DispatchSemaphore(value: 0)
    while Date() < deadline {
        if try condition() { return true }
        _ = pause.wait(timeout: .now() + .milliseconds(100))
    }
    return try condition()
}

@Suite("recoveryctl serve", .serialized)
struct RecoveryctlServeTests {
    /// Head seq and chain hash, read from outside the serving process.
    static func head(_ store: String) throws -> String {
        let opened = try EventStore.open(at: store, options: { var o = StoreOptions(); o.create = false; return o }())
        defer { opened.close() }
        let head = try opened.head()
        return "\(head.seq) \(head.hash.hex)"
    }

    @Test("metrics, health and readiness; sync in binary and JSON; bad requests to every endpoint are 4xx and change nothing; SIGTERM stops it cleanly")
    func endpoints() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let node = try ServedNode(store: store, arguments: ["--max-body", "4096"])
        let metrics = http("GET", node.url + "/metrics")
        #expect(metrics.status == 200 && String(decoding: metrics.body, as: UTF8.self).contains("recovery_log_head_seq{node_id=\"agent-1\"}"))
        #expect(http("GET", node.url + "/healthz").status == 200)
        #expect(http("GET", node.url + "/readyz").status == 200)

        let before = try Self.head(store)
        let bad: [(String, String, [UInt8]?, String?, Int)] = [
            ("GET", "/v1/sync", nil, nil, 404),
            ("DELETE", "/metrics", nil, nil, 404),
            ("POST", "/metrics", [1], nil, 404),
            ("POST", "/healthz", [1], nil, 404),
            ("PUT", "/readyz", [UInt8](repeating: 0, count: 100_000), "application/octet-stream", 404),
            ("POST", "/v1/sync", Array("garbage".utf8), "application/octet-stream", 400),
            ("POST", "/v1/sync", Array("{\"replica\": 5}".utf8), "application/json", 400),
            ("POST", "/v1/sync", [UInt8](repeating: 0x52, count: 10_000), "application/octet-stream", 413),
            ("POST", "/v1/sync", Array("x".utf8), "text/plain", 415),
            ("GET", "/nowhere", nil, nil, 404),
        ]
        for (method, path, body, type, expected) in bad {
            let answer = http(method, node.url + path, body: body, contentType: type)
            #expect(answer.status == expected, "\(method) \(path): \(answer.status) \(String(decoding: answer.body, as: UTF8.self))")
            if expected == 400 { #expect(String(decoding: answer.body, as: UTF8.self).split(separator: "\n").count == 1) }
        }
        #expect(try Self.head(store) == before)

        // A fresh replica asks for everything, in binary, then in JSON.
        let peer = dir.path + "/peer"
        let pulled = try recoveryctl(["sync", "pull", "--from", node.url, "--store", peer])
        #expect(pulled.status == 0 && pulled.stdout.contains("pulled "), "\(pulled.stderr)")
        let json = http("POST", node.url + "/v1/sync", body: Array(#"{"type":"request","format":"recovery-sync","version":1,"replica":"peer-json","vector":{}}"#.utf8), contentType: "application/json")
        #expect(json.status == 200 && String(decoding: json.body, as: UTF8.self).contains("\"operations\""), "\(String(decoding: json.body, as: UTF8.self))")

        #expect(node.stop() == 0)
        #expect(try recoveryctl(["verify", "--store", store]).status == 0)
    }

    @Test("three served nodes converge; one killed with SIGKILL and restarted loses no acknowledged write and catches up")
    func threeNodes() throws {
        let dir = TemporaryDirectory()
        let stores = ["a", "b", "c"].map { dir.path + "/" + $0 }
        for store in stores { #expect(try recoveryctl(["sync", "vector", "--store", store]).status == 0) }
        // Each node's port is known only once it runs: start them, then point each at the others.
        var nodes = try stores.map { try ServedNode(store: $0) }
        let urls = nodes.map(\.url), ports = nodes.map(\.port)
        for node in nodes { _ = node.stop() }
        nodes = try stores.indices.map { i in
            try ServedNode(store: stores[i], port: ports[i], arguments: ["--sync-interval", "200ms"] + urls.indices.filter { $0 != i }.flatMap { ["--peer", urls[$0]] })
        }
        func members(_ i: Int) throws -> String { try recoveryctl(["set", "list", "--store", stores[i], "--map", "mesh", "quarantined"]).stdout }

        #expect(try recoveryctl(["set", "add", "--store", stores[0], "--map", "mesh", "quarantined", "node-9"]).status == 0)
        #expect(try eventually { try members(1).contains("node-9") && members(2).contains("node-9") })
        // C's metrics show the quarantine A decided, and its pulls.
        let metrics = String(decoding: http("GET", nodes[2].url + "/metrics").body, as: UTF8.self).split(separator: "\n")
        #expect(metrics.contains { $0.hasPrefix("recovery_fleet_quarantined_nodes{") && $0.hasSuffix(" 1") })
        #expect(metrics.contains { $0.hasPrefix("recovery_sync_pulls_total{") && $0.contains(#"result="ok""#) })

        // C dies mid-flight; what it acknowledged stays, and it catches up on what it missed.
        let acknowledged = try Self.head(stores[2])
        nodes[2].killHard()
        #expect(try recoveryctl(["set", "add", "--store", stores[1], "--map", "mesh", "quarantined", "node-4"]).status == 0)
        try nodes[2].start()
        #expect(try Self.head(stores[2]).split(separator: " ")[0] >= acknowledged.split(separator: " ")[0])
        #expect(try eventually { try members(2).contains("node-4") && members(0).contains("node-4") })
        for node in nodes { #expect(node.stop() == 0) }
        for store in stores { #expect(try recoveryctl(["verify", "--store", store]).status == 0) }
    }
}
