import EventStore
import Foundation
import Healing

/// Runs each compensating action through an external command: the action as JSON on stdin;
/// exit 0 success (stdout may carry a JSON `effect`), 75 retryable failure, other failure.
struct ExecActuator: Actuator {
    let command: [String]

    func perform(_ action: Action, actionID: String, attempt: Int) async throws(ActuatorFailure) -> Action {
        guard let executable = command.first else { throw ActuatorFailure("no command given", retryable: false) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(command.dropFirst())
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        var request = action.document.mapValue ?? [:]
        request["action"] = .string(actionID)
        request["attempt"] = .int(Int64(attempt))
        do { try process.run() } catch { throw ActuatorFailure("cannot run \(executable): \(error.localizedDescription)", retryable: false) }
        input.fileHandleForWriting.write(Data((JSONWriter.encode(.map(request)) + "\n").utf8))
        try? input.fileHandleForWriting.close()
        let reply = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        switch process.terminationStatus {
        case 0:
            let text = String(decoding: reply.prefix(1 << 20), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
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
