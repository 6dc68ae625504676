import Foundation
import Healing
import Testing
@testable import EventStore
@testable import recoveryctl

/// The reproductions of the reliability issue, as an operator meets them through recoveryctl.
@Suite("recoveryctl against poison, far times and absurd values", .serialized)
struct PoisonRegressionTests {
    static let poisonLine = #"{"type":"action.started","stream":"action/x","data":{"action":"a1","window_s":9223372036854775807,"limiter":"x","breaker":"y"}}"#

    func demoStore() throws -> TemporaryDirectory {
        let dir = TemporaryDirectory()
        let demo = try recoveryctl(["demo", "--seed", "1", "--store", dir.store()])
        #expect(demo.status == 0, "\(demo.stderr)")
        return dir
    }

    func head(_ dir: TemporaryDirectory) throws -> String {
        try recoveryctl(["verify", "--store", dir.store()]).stdout
    }

    @Test("importing the poison is refused with its line and field, exit 2, nothing written")
    func importRefusesPoison() throws {
        let dir = try demoStore()
        let before = try head(dir)
        let withAttempt = Self.poisonLine.replacingOccurrences(of: #""action":"a1","#, with: #""action":"a1","attempt":1,"#)
        for (lines, field) in [([Self.poisonLine], "data.attempt"), (["{\"type\":\"operator.note\",\"stream\":\"n/1\",\"data\":{\"text\":\"x\"}}", withAttempt], "data.window_s"),
                              (["{\"type\":\"operator.note\",\"stream\":\"n/1\",\"data\":{\"author\":7}}"], "data.text")] {
            let result = try recoveryctl(["import", "--store", dir.store(), "-"], stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
            #expect(result.status == 2, "\(result.stdout)")
            #expect(result.stderr.contains("line \(lines.count): field \(field)"), "\(result.stderr)")
        }
        #expect(try head(dir) == before, "nothing of a refused import is written")
        let replay = try recoveryctl(["replay", "--projection", "limiters", "--store", dir.store()])
        #expect(replay.status == 0, "\(replay.stderr)")
    }

    @Test("a store already holding poison replays, and projections counts what each projection skipped")
    func poisonedStoreReplays() async throws {
        let dir = try demoStore()
        // Written as a version before the vocabulary would have.
        let store = try EventStore.open(at: dir.store())
        let line = try JSONParser.parse(Self.poisonLine.replacingOccurrences(of: #""action":"a1","#, with: #""action":"a1","attempt":1,"#))
        _ = try await store.append([try Envelope.newEvent(from: line),
                                    NewEvent(type: "action.succeeded", stream: "action/x", data: ["action": "a1", "attempt": 1, "duration_ms": .int(.max)])])
        let seq = try store.head().seq
        store.close()
        for projection in ["limiters", "actions", "breakers"] {
            let replay = try recoveryctl(["replay", "--projection", projection, "--store", dir.store()])
            #expect(replay.status == 0, "\(projection): \(replay.stderr)")
        }
        let rollback = try recoveryctl(["rollback", "--to-seq", "3", "--dry-run", "--store", dir.store()])
        #expect(rollback.status == 0, "an engine opens on the store: \(rollback.stderr)")
        let status = try recoveryctl(["projections", "--format", "json", "--store", dir.store()])
        guard case .array(let rows) = try JSONParser.parse(status.stdout) else { Issue.record("\(status.stdout)"); return }
        func malformed(_ name: String) -> EventValue? { rows.first { $0["name"] == .string(name) }?["malformed"] }
        #expect(malformed("limiters")?["count"] == 1)
        #expect(malformed("limiters")?["last_seq"] == .int(Int64(seq - 1)))
        #expect(malformed("limiters")?["last_error"]?.stringValue?.contains("data.window_s") == true)
        #expect(malformed("actions")?["count"] == 2)
        #expect(malformed("stats") == nil, "stats reads no payloads")
        let text = try recoveryctl(["projections", "--store", dir.store()])
        #expect(text.stdout.contains("MALFORMED") && text.stdout.contains("2 (last at seq \(seq)"), "\(text.stdout)")
    }

    @Test("far and absurd times and intervals are exit 2 with one clear line", arguments: [
        ["query", "--since", "2262-04-11T23:47:16.9Z"],
        ["query", "--until", "9999-12-31T23:59:59Z"],
        ["query", "--since", "-99999999999d"],
        ["query", "--since", "-9223372036854775807s"],
        ["query", "--since", "-106752d"],
        ["replay", "--at-time", "2262-04-11T23:47:16.9Z"],
        ["tail", "-f", "--interval", "5000000"],
        ["tail", "-f", "--interval", "9223372036854775807"],
        ["tail", "-n", "-1"],
    ])
    func absurdArguments(arguments: [String]) throws {
        let dir = try demoStore()
        let result = try recoveryctl(arguments + ["--store", dir.store()])
        #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
        #expect(result.stderr.hasPrefix("recoveryctl: error:") && result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
    }

    @Test("an imported event dated past 2262 is refused with its line")
    func farImportTime() throws {
        let dir = TemporaryDirectory()
        let line = #"{"type":"operator.note","stream":"n/1","time":"2262-04-11T23:47:16.9Z","data":{"text":"x"}}"#
        let result = try recoveryctl(["import", "--store", dir.store(), "-"], stdin: Data((line + "\n").utf8))
        #expect(result.status == 2)
        #expect(result.stderr.contains("line 1"), "\(result.stderr)")
    }

    func script(_ dir: TemporaryDirectory, _ body: String) throws -> [String] {
        let path = dir.path + "/actuator.sh"
        try ("#!/bin/sh\n" + body + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return [path]
    }

    @Test("an --exec command that exits without reading its input fails the action; recoveryctl lives on")
    func execIgnoresSIGPIPE() async throws {
        let dir = TemporaryDirectory()
        // A request larger than a pipe's buffer: the write is still under way when the child exits.
        let action = Action.quarantine(node: "n1", reason: String(repeating: "x", count: 1 << 20))
        let actuator = ExecActuator(command: try script(dir, "exit 3"))
        do {
            _ = try await actuator.perform(action, actionID: "act-1", attempt: 1)
            Issue.record("exit 3 is a failure")
        } catch {
            #expect(error.message.contains("exited 3") && !error.retryable, "\(error.message)")
        }
    }

    @Test("an --exec command that hangs is stopped at the timeout and the failure is retryable")
    func execTimesOut() async throws {
        let dir = TemporaryDirectory()
        let actuator = ExecActuator(command: try script(dir, "exec sleep 60"), timeoutMilliseconds: 200)
        let started = Date()
        do {
            _ = try await actuator.perform(.release(node: "n1"), actionID: "act-1", attempt: 1)
            Issue.record("a hung command cannot succeed")
        } catch {
            #expect(error.message.contains("did not finish within 200 ms") && error.retryable, "\(error.message)")
        }
        #expect(Date().timeIntervalSince(started) < 10)
    }

    @Test("simulate runs seeds and reports seeds per second, the faults met and a passed count; bad ranges are exit 2")
    func simulate() throws {
        let dir = TemporaryDirectory()
        let run = try recoveryctl(["simulate", "--seeds", "3-6", "--cycles", "6", "--directory", dir.path])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("seeds/s") && run.stdout.contains("faults: actuator_failure"), "\(run.stdout)")
        #expect(run.stdout.split(separator: "\n").last == "4 passed, 0 failed", "\(run.stdout)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.isEmpty == true, "passing seeds leave no store")
        for bad in [["--seeds", "9-3"], ["--seeds", "x"], ["--seeds", "1-18446744073709551615"], ["--cycles", "0"], ["--jobs", "1000"]] {
            let result = try recoveryctl(["simulate"] + bad)
            #expect(result.status == 2, "\(bad): \(result.stderr)")
        }
    }
}
