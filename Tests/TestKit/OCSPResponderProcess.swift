import Foundation

/// A real `openssl ocsp` responder for the tests that fetch: started on a port the kernel picks
/// (it prints `ACCEPT [::]:PORT`, which is what we wait for, with a bound), answering from an
/// index in the PKI's directory, stopped by `stop()` or when released.
public final class OCSPResponderProcess: @unchecked Sendable {
    public enum Failure: Error { case didNotStart(String) }

    private let process = Process()
    public let port: Int
    /// Where to POST requests: loopback.
    public var url: String { "http://127.0.0.1:\(port)/" }

    /// Answers for certificates of `issuer` from `index` (an `openssl ca` index), signed by
    /// `signer`, each response valid for `days`.
    public init(pki: TestPKI, index: String, issuer: String, signer: String, days: Int = 1) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["ocsp", "-index", index, "-port", "0", "-rsigner", "\(signer).pem", "-rkey", "\(signer).key",
                             "-CA", "\(issuer).pem", "-ndays", "\(days)"]
        process.currentDirectoryURL = URL(fileURLWithPath: pki.directory.path)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // The first line names the port: `ACCEPT [::]:PORT PID=...`.
        guard let line = firstLine(of: output, within: 10), let range = line.range(of: "]:"),
              let port = Int(line[range.upperBound...].prefix { $0.isNumber }) else {
            kill(process.processIdentifier, SIGKILL)
            throw Failure.didNotStart("no ACCEPT line from openssl ocsp")
        }
        self.port = port
    }

    public func stop() {
        guard process.isRunning else { return }
        // SIGKILL: a child inherits the test runner's ignored signals, SIGTERM among them here.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    deinit { stop() }
}
