import Foundation
import Testing
@testable import EventStore
import CLMDB
@_exported import TestKit

/// Opens a store in a temporary directory with a manual clock.
func makeStore(_ dir: TemporaryDirectory, clock: ManualClock = ManualClock(Timestamp(seconds: 1_795_000_000)),
               configure: (inout StoreOptions) -> Void = { _ in }) throws -> EventStore {
    var options = StoreOptions()
    options.nodeID = "node-t"
    options.clock = clock
    configure(&options)
    return try EventStore.open(at: dir.store(), options: options)
}

func event(_ type: String = "test.event", stream: String = "s/1", _ data: EventValue = ["k": 1],
           tags: [String: String] = [:], id: String? = nil) -> NewEvent {
    NewEvent(type: type, stream: stream, data: data, tags: tags, id: id)
}

/// Where the package's executables are: next to the test bundle.
enum Executables {
    static var directory: URL {
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while !FileManager.default.fileExists(atPath: url.appendingPathComponent("recoveryctl").path), url.path != "/" {
            url.deleteLastPathComponent()
        }
        return url
    }

    static var recoveryctl: String { directory.appendingPathComponent("recoveryctl").path }
    static var crashHelper: String { directory.appendingPathComponent("StoreCrashHelper").path }
}

/// A child process whose stdout lines are collected as they come; waits are bounded.
final class ChildProcess: @unchecked Sendable {
    // @unchecked: `lines` and `finished` are guarded by `condition`.
    let process = Process()
    private let condition = NSCondition()
    private var lines: [String] = []
    private var partial = Data()
    private var finished = false

    init(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws {
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        if let environment { process.environment = environment }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        pipe.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            self?.receive(data)
        }
        try process.run()
    }

    private func receive(_ data: Data) {
        condition.lock()
        defer { condition.unlock() }
        if data.isEmpty { finished = true } else {
            partial.append(data)
            while let newline = partial.firstIndex(of: 0x0a) {
                lines.append(String(decoding: partial[partial.startIndex..<newline], as: UTF8.self))
                partial.removeSubrange(partial.startIndex...newline)
            }
        }
        condition.broadcast()
    }

    var output: [String] {
        condition.lock()
        defer { condition.unlock() }
        return lines
    }

    /// Waits until `predicate` holds for the lines so far, or `timeout` seconds pass.
    @discardableResult
    func waitFor(timeout: TimeInterval = 30, _ predicate: ([String]) -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !predicate(lines) {
            if finished || !condition.wait(until: deadline) { return predicate(lines) }
        }
        return true
    }

    func kill() {
        Foundation.kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// Acknowledged positions printed as `ack SEQ`.
    var acknowledged: [UInt64] { output.compactMap { $0.hasPrefix("ack ") ? UInt64($0.dropFirst(4)) : nil } }
}

func recoveryctl(_ arguments: [String], stdin: Data? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    try run(Executables.recoveryctl, arguments, stdin: stdin)
}

/// Opens the store's LMDB environment directly (the C API, behind the store's back) and runs
/// `body` in a write transaction.
func withRawEnvironment(_ path: String, _ body: (OpaquePointer) throws -> Void) throws {
    var env: OpaquePointer?
    #expect(mdb_env_create(&env) == 0)
    guard let env else { return }
    defer { mdb_env_close(env) }
    mdb_env_set_maxdbs(env, 32)
    #expect(mdb_env_open(env, path, 0, 0o644) == 0)
    var txn: OpaquePointer?
    #expect(mdb_txn_begin(env, nil, 0, &txn) == 0)
    guard let txn else { return }
    try body(txn)
    #expect(mdb_txn_commit(txn) == 0)
}

/// Deletes one key of the store's `meta` database behind the store's back, as a store written
/// by an older version would lack it.
func removeMetaKey(_ name: String, in path: String) throws {
    try withRawEnvironment(path) { txn in
        var dbi: MDB_dbi = 0
        #expect(mdb_dbi_open(txn, "meta", 0, &dbi) == 0)
        var key = Array(name.utf8)
        key.withUnsafeMutableBytes { k in
            var mk = MDB_val(mv_size: k.count, mv_data: k.baseAddress)
            #expect(mdb_del(txn, dbi, &mk, nil) == 0)
        }
    }
}
