import ArgumentParser
import EventStore
import Foundation
import RecoveryEngine

struct MetricsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "metrics",
        abstract: "Print the store's Prometheus metrics (text format 0.0.4), now or as they were after event N.",
        discussion: "Rendered from projections, so a copy of a store shows what its node reported. --textfile writes atomically (a temporary file renamed into place) for node_exporter's textfile collector.")

    @OptionGroup var global: GlobalArguments
    @Option(name: .customLong("at-seq"), help: "As after events 1 through N (store size, map use and index lag are left out).") var atSeq: UInt64?
    @Option(help: "Write to this file instead of standard output.") var textfile: String?

    func run() throws {
        let store = try global.openExisting()
        defer { store.close() }
        if let atSeq {
            let head = try storeCall { try store.head().seq }
            guard atSeq >= 1, atSeq <= head else { throw CLIFailure.usage("--at-seq \(atSeq) is outside the log (1...\(head))") }
        }
        let text = try projectionCall { try MetricsSnapshot.read(store: store, at: atSeq).render() }
        guard let textfile else {
            print(text, terminator: "")
            return
        }
        try writeAtomically(textfile, Array(text.utf8))
    }
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a
/// reader sees the old file or the new one, never half of one.
func writeAtomically(_ path: String, _ bytes: [UInt8]) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    do {
        try Data(bytes).write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else { throw CLIFailure(code: 1, message: "cannot rename into \(path): \(String(cString: strerror(errno)))") }
    } catch let error as CLIFailure {
        try? FileManager.default.removeItem(at: temporary)
        throw error
    } catch {
        try? FileManager.default.removeItem(at: temporary)
        throw CLIFailure(code: 1, message: "cannot write \(path): \(error.localizedDescription)")
    }
}
