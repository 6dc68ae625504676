import ArgumentParser
import EventStore
import Foundation
import Healing
import Hummingbird
import Logging
import RecoveryEngine
import ServiceLifecycle

struct ServeCommand: AsyncRun {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run the agent on a store: /metrics, /healthz, /readyz and POST /v1/sync over HTTP, pulling from peers.",
        discussion: "Prints 'listening on HOST:PORT' once bound (--listen 127.0.0.1:0 picks a free port). SIGTERM or SIGINT stops it gracefully: requests in flight finish, the store closes cleanly. Logs go to standard error.")

    @OptionGroup var global: GlobalArguments
    @Option(help: "HOST:PORT to listen on.") var listen = "127.0.0.1:9464"
    @Option(help: "A peer's base URL to pull from (repeatable), e.g. http://10.0.0.2:9464.") var peer: [String] = []
    @Option(name: .customLong("sync-interval"), help: "Time between pulls from each peer (e.g. 10s, 500ms, 2m).") var syncInterval = "10s"
    @Option(name: .customLong("max-body"), help: "Largest request body accepted, in bytes.") var maxBody = 16 << 20

    func runAsync() async throws {
        let (host, port) = try Self.hostAndPort(listen)
        let interval = try Self.duration(syncInterval, option: "--sync-interval")
        guard (1_024...SyncEndpoint.maximumBody).contains(maxBody) else { throw CLIFailure.usage("--max-body must be 1024 to \(SyncEndpoint.maximumBody)") }
        let peers = try peer.map { text in
            guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw CLIFailure.usage("--peer \(text): expected an http:// URL")
            }
            return url
        }
        var logger = Logger(label: "recoveryctl.serve")
        var configuration = EngineConfiguration()
        configuration.store = GlobalArguments.options
        let engine: RecoveryEngine
        do {
            engine = try await RecoveryEngine.open(at: global.storePath, configuration: configuration, actuator: DryRunActuator())
        } catch let error as StoreError { throw CLIFailure(error) }
        defer { engine.close() }
        logger[metadataKey: "node_id"] = "\(engine.store.nodeID)"

        let state = ServeState()
        let antiEntropy = AntiEntropy(engine: engine, peers: peers, interval: interval, state: state, logger: logger)
        let router = Router()
        ServeRoutes(engine: engine, state: state, maxBody: maxBody).add(to: router)
        let app = Application(router: router, configuration: .init(address: .hostname(host, port: port), serverName: "recoveryctl"),
                              onServerRunning: { channel in
                                  // Catch the projections up before saying ready.
                                  _ = try? engine.metricsText()
                                  state.markReady()
                                  print("listening on \(host):\(channel.localAddress?.port ?? port)")
                                  fflush(nil)
                              }, logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app, antiEntropy], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped", metadata: ["head_seq": "\((try? engine.store.head().seq) ?? 0)"])
    }

    static func hostAndPort(_ text: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65_535).contains(port),
              !text[..<colon].isEmpty else {
            throw CLIFailure.usage("--listen \(text): expected HOST:PORT with a port of 0 to 65535")
        }
        return (String(text[..<colon]), port)
    }

    /// "10s", "500ms", "2m": a duration from 100 ms to a day.
    static func duration(_ text: String, option: String) throws -> Duration {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, milliseconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            guard let value = Int64(number), value > 0, !number.hasPrefix("+") else { break }
            let (total, overflow) = value.multipliedReportingOverflow(by: milliseconds)
            guard !overflow, (100...86_400_000).contains(total) else { break }
            return .milliseconds(total)
        }
        throw CLIFailure.usage("\(option) \(text): expected a duration like 500ms, 10s or 2m, from 100ms to 24h")
    }
}

/// What the routes and anti-entropy share: readiness and the pull counters, which live in the
/// process (they describe this run, not the log).
final class ServeState: @unchecked Sendable {
    // @unchecked: every field is read and written under `lock`.
    private let lock = Mutex()
    private var ready = false
    private var pulls: [String: (succeeded: UInt64, failed: UInt64)] = [:]

    func markReady() { lock.withLock { ready = true } }
    var isReady: Bool { lock.withLock { ready } }

    func recordPull(_ peer: String, succeeded: Bool) {
        lock.withLock {
            var counts = pulls[peer] ?? (0, 0)
            if succeeded { counts.succeeded &+= 1 } else { counts.failed &+= 1 }
            pulls[peer] = counts
        }
    }

    /// The pull counters as exposition families.
    func exposition(nodeID: String) -> String {
        let counts = lock.withLock { pulls }.sorted { $0.key < $1.key }
        var out = Exposition()
        out.family(MetricsSnapshot.prefix + "sync_pulls_total", .counter, help: "Anti-entropy pulls from each peer by result (this run).",
                   counts.flatMap { peer, c in [([("node_id", nodeID), ("peer", peer), ("result", "ok")], Double(c.succeeded)),
                                                ([("node_id", nodeID), ("peer", peer), ("result", "failed")], Double(c.failed))] })
        return out.text
    }
}
