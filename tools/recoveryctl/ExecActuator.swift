import EventStore
import Foundation
import Healing
#if canImport(Glibc)
import Glibc
#endif

/// Runs each compensating action through an external command: the action as JSON on stdin;
/// exit 0 success (stdout may carry a JSON `effect`), 75 retryable failure, other failure.
///
/// The command is outside input too: one that exits without reading stdin must not kill
/// recoveryctl with SIGPIPE, and one that hangs is killed after `timeoutMilliseconds` and counts
/// as a retryable failure.
struct ExecActuator: Actuator {
    let command: [String]
    var timeoutMilliseconds = 30_000
    /// A reply longer than this is cut (an effect is a few hundred bytes).
    static let maximumReplyBytes = 1 << 20

    func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action {
        guard let executable = command.first else { throw ActuatorFailure("no command given", retryable: false) }
        // A write to a pipe whose reader is gone raises SIGPIPE, whose default is to end the
        // process; ignored, the write fails with EPIPE, which is handled below.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(command.dropFirst())
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        var request = action.document.mapValue ?? [:]
        request["action"] = .string(actionID)
        request["attempt"] = .int(Int64(attempt))
        do { try process.run() } catch { throw ActuatorFailure("cannot run \(executable): \(error.localizedDescription)", retryable: false) }
        // Read the reply while writing and waiting, so a chatty child cannot block on a full pipe.
        let reply = ReplyReader(output.fileHandleForReading, limit: Self.maximumReplyBytes)
        // A child that does not read its input is its own business: the write fails, we go on.
        try? input.fileHandleForWriting.write(contentsOf: Data((JSONWriter.encode(.map(request)) + "\n").utf8))
        try? input.fileHandleForWriting.close()
        if exited.wait(timeout: .now() + .milliseconds(timeoutMilliseconds)) == .timedOut {
            process.terminate()
            if exited.wait(timeout: .now() + .seconds(2)) == .timedOut {
                kill(process.processIdentifier, SIGKILL)
                exited.wait()
            }
            throw ActuatorFailure("\(executable) did not finish within \(timeoutMilliseconds) ms and was stopped", retryable: true)
        }
        // A grandchild may still hold stdout open: the reply is what arrived by now.
        let text = String(decoding: reply.collected(waitingUpTo: .seconds(2)), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        switch process.terminationStatus {
        case 0:
            guard !text.isEmpty else { return action }
            do {
                let value = try JSONParser.parse(text)
                guard let effect = value["effect"] else { return action }
                return try Action(document: effect)
            } catch {
                throw ActuatorFailure(HealingError.malformedActuatorReply("\(error)").description, retryable: false)
            }
        case 75: throw ActuatorFailure("\(executable) exited 75 (retryable)", retryable: true)
        default: throw ActuatorFailure("\(executable) exited \(process.terminationStatus)", retryable: false)
        }
    }
}

/// Collects a child's stdout on a background thread, up to a limit.
private final class ReplyReader: @unchecked Sendable {
    // @unchecked: `bytes` is written by the reading thread before `done` is signalled and read
    // only after waiting on it.
    private var bytes = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle, limit: Int) {
        Thread.detachNewThread { [self] in
            while bytes.count < limit, let chunk = try? handle.read(upToCount: 64 * 1024), !chunk.isEmpty {
                bytes.append(chunk.prefix(limit - bytes.count))
            }
            done.signal()
        }
    }

    func collected(waitingUpTo timeout: DispatchTimeInterval) -> Data {
        done.wait(timeout: .now() + timeout) == .success ? bytes : Data()
    }
}
