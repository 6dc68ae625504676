import Foundation

/// Waits for the first line a child process writes to `pipe`, at most `seconds`: read on
/// another thread so that the wait is bounded. Nil when none came in time (or the pipe closed
/// before a newline).
public func firstLine(of pipe: Pipe, within seconds: Double) -> String? {
    let reader = pipe.fileHandleForReading
    let found = DispatchSemaphore(value: 0)
    let box = FirstLine()
    Thread.detachNewThread {
        var text = ""
        while !text.contains("\n") {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        box.set(text)
        found.signal()
    }
    guard found.wait(timeout: .now() + seconds) == .success else { return nil }
    let text = box.get()
    return text.contains("\n") ? text : nil
}

/// Waits for `process` to exit, at most `seconds` (its termination handler signals): no sleep.
/// Whether it exited.
public func waitForExit(_ process: Process, within seconds: Double) -> Bool {
    let exited = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in exited.signal() }
    guard process.isRunning else { return true }
    return exited.wait(timeout: .now() + seconds) == .success || !process.isRunning
}

private final class FirstLine: @unchecked Sendable {
    // @unchecked: guarded by `lock`.
    private let lock = NSLock()
    private var text = ""
    func set(_ value: String) { lock.withLock { text = value } }
    func get() -> String { lock.withLock { text } }
}

/// Runs a command to completion and returns its exit status, stdout and stderr.
public func run(_ executable: String, _ arguments: [String], stdin: Data? = nil,
         environment: [String: String]? = nil) throws -> (status: Int32, stdout: String, stderr: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    let input = Pipe()
    process.standardInput = input
    try process.run()
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try input.fileHandleForWriting.close()
    // Drain both pipes concurrently so a large output cannot block the child.
    let group = DispatchGroup()
    nonisolated(unsafe) var errData = Data()
    group.enter()
    DispatchQueue.global().async {
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.leave()
    }
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    group.wait()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: outData, as: UTF8.self), String(decoding: errData, as: UTF8.self))
}

/// Runs `body` on a Dispatch thread and awaits it: for a test's long blocking work (a pip
/// install, waiting on a child), which on the cooperative pool (two threads on two cores) would
/// stall every other test's awaits, timeouts included, until it ends.
public func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
    }
}
