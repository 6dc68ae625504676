import ArgumentParser
import EventStore
import Foundation
import Policies

/// Reads a policy document, refusing (exit 2, nothing recorded) one that breaks the rules.
func readPolicyDocument(_ path: String) throws -> PolicyDocument {
    try readDocument(path, kind: "policy", limit: PolicyDocument.maximumBytes) { bytes throws(DocumentErrors) in try PolicyDocument(json: bytes) }
}

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy", abstract: "Zero-trust policies: publish and activate versions, show them, list decisions, replay decisions against another version.",
        discussion: "A policy is a JSON document in the built-in rule language (README, Policies; policies/mesh.json). Every version is a policy.published event, the one in force a policy.activated event; activating an older version is the rollback.",
        subcommands: [VersionPublish<PolicyKind>.self, VersionActivate<PolicyKind>.self, VersionList<PolicyKind>.self, VersionShow<PolicyKind>.self, Eval.self, Decisions.self, Replay.self])

    struct Eval: AsyncRun {
        static let configuration = CommandConfiguration(
            abstract: "Ask the active version of a policy about an action or a peer, and record the decision (policy.decision).",
            discussion: "Exit 0 allowed, 1 denied (an evaluator that cannot answer denies), 2 bad usage. --dry-run records nothing.")
        @OptionGroup var global: GlobalArguments
        @OptionGroup var evaluator: EvaluatorOptions
        @Option(help: "The policy.") var policy: String
        @Option(help: "An action's kind (switch_route, scale, failover, quarantine, release).") var kind: String?
        @Option(help: "The action's target, e.g. service/api or node/edge-1.") var target: String?
        @Option(help: "An action's label KEY=VALUE (repeatable).") var label: [String] = []
        @Option(help: "The incident (correlation id) the action belongs to.") var correlation: String?
        @Option(name: .customLong("incident-actions"), help: "Actions the incident already holds.") var incidentActions = 0
        @Option(help: "A peer's SPIFFE ID.") var peer: String?
        @Option(help: "The peer's latest certificate verdict: trusted, untrusted or unknown.") var verdict = "unknown"
        @Option(help: "What the peer asks to do (sync, route, ...).") var operation = ""
        @Option(help: "The time asked about (RFC 3339 or relative); default now.") var at: String?
        @Flag(name: .customLong("dry-run"), help: "Print the decision; record nothing.") var dryRun = false

        func validate() throws {
            guard (kind != nil && target != nil) != (peer != nil) else { throw ValidationError("give --kind KIND --target TARGET, or --peer SPIFFE_ID") }
            guard (0...1_000_000).contains(incidentActions) else { throw ValidationError("--incident-actions must be between 0 and 1000000") }
        }

        func runAsync() async throws {
            let time = try at.map { try TimeArgument.parse($0, option: "--at") } ?? SystemClock().now()
            var labels: [String: String] = [:]
            for item in label {
                guard let equals = item.firstIndex(of: "=") else { throw CLIFailure.usage("--label \(item): expected KEY=VALUE") }
                labels[String(item[..<equals])] = String(item[item.index(after: equals)...])
            }
            let input: PolicyInput
            if let kind, let target {
                input = .action(id: "eval", kind: kind, target: target, labels: labels, correlation: correlation, incidentActions: incidentActions, at: time)
            } else {
                input = .peer(spiffeID: peer ?? "", verdict: verdict, operation: operation, at: time)
            }
            let store = try global.openExisting()
            defer { store.close() }
            let book = try domainCall { try PolicyBook(store: store, evaluator: try evaluator.make()) }
            let (decision, version, record) = await book.decide(input, policy: policy)
            if !dryRun { _ = try await storeCall { try await store.append([record]) } }
            print("\(decision.result) by \(policy) version \(version), rule \(decision.rule)\(decision.error.map { " (\($0))" } ?? "")")
            if !decision.allowed { throw CLIFailure(code: 1, message: "denied by \(policy) version \(version), rule \(decision.rule)") }
        }
    }

    struct Decisions: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Recorded policy decisions, oldest first: time, policy, version, result, rule, and what was asked.")
        @OptionGroup var global: GlobalArguments
        @Option(help: "Only this policy's decisions.") var policy: String?
        @Option(help: "From this time (RFC 3339 or relative).") var since: String?
        @Option(help: "table or json.") var format: StateFormat = .table

        func run() throws {
            let since = try self.since.map { try TimeArgument.parse($0, option: "--since") }
            let store = try global.openExisting()
            defer { store.close() }
            let query = EventQuery(stream: policy.map(PolicyEvent.decisionStream), type: PolicyEvent.decision, since: since)
            try storeCall {
                try store.query(query).forEach { e in
                    if format == .json { print(JSONWriter.encode(["seq": .int(Int64(clamping: e.seq)), "time": .string(e.time.rfc3339), "decision": e.data])); return }
                    let input = e.data["input"].flatMap(PolicyInput.init(value:))
                    let asked = input.map { $0.subject == .action ? "\($0.kind ?? "") \($0.target ?? "")" : "peer \($0.spiffeID ?? "") \($0.operation ?? "")" } ?? "?"
                    print("\(e.seq)  \(e.time.rfc3339)  \(e.data["policy"]?.stringValue ?? "") v\(e.data["version"]?.intValue ?? 0)  \(e.data["result"]?.stringValue ?? "")  \(e.data["rule"]?.stringValue ?? "")  \(asked)")
                }
            }
        }
    }

    struct Replay: AsyncRun {
        static let configuration = CommandConfiguration(
            abstract: "Evaluate the recorded decisions of a policy again under another version and print what would have changed.",
            discussion: "Exit 0 whether or not anything changed; the last line counts them.")
        @OptionGroup var global: GlobalArguments
        @OptionGroup var evaluator: EvaluatorOptions
        @Option(help: "The policy (default: the only one published).") var policy: String?
        @Option(help: "The version to evaluate the recorded inputs under.") var version: Int
        @Option(help: "Only decisions from this time (RFC 3339 or relative).") var since: String?
        @Flag(help: "Print every decision, not only those that change.") var all = false

        func runAsync() async throws {
            let since = try self.since.map { try TimeArgument.parse($0, option: "--since") }
            let store = try global.openExisting()
            defer { store.close() }
            let book = try domainCall { try PolicyBook(store: store, evaluator: try evaluator.make()) }
            let published = try domainCall { try book.policies() }
            guard let policy = policy ?? (published.count == 1 ? published.keys.first : nil) else {
                throw CLIFailure.usage("give --policy NAME (published: \(published.keys.sorted().joined(separator: ", ")))")
            }
            let replayed: [ReplayedDecision]
            do { replayed = try await book.replay(policy, against: version, since: since) } catch {
                throw CLIFailure(code: error.isBadInput ? 2 : 1, message: error.description)
            }
            for decision in replayed where all || decision.changed {
                let input = decision.input
                let asked = input.subject == .action ? "\(input.kind ?? "") \(input.target ?? "")" : "peer \(input.spiffeID ?? "") \(input.operation ?? "")"
                print("\(decision.changed ? "CHANGED" : "same   ")  seq \(decision.seq)  \(asked): v\(decision.recordedVersion) \(decision.recordedResult) (\(decision.recordedRule)) -> v\(version) \(decision.replayed.result) (\(decision.replayed.rule))")
            }
            print("\(replayed.filter(\.changed).count) of \(replayed.count) decisions would change under version \(version)")
        }
    }
}

/// How `policy eval` and `policy replay` evaluate: the built-in rules, or an OPA server.
struct EvaluatorOptions: ParsableArguments {
    @Option(help: "Evaluate with Open Policy Agent at this base URL (its Data API) instead of the built-in rules.") var opa: String?
    @Option(name: .customLong("opa-path"), help: "The decision's path under /v1/data.") var opaPath = "recovery/mesh/decision"
    @Option(name: .customLong("opa-timeout"), help: "Seconds to wait for OPA (0.1 to 60); no answer is a deny.") var opaTimeout: Double = 2

    func make() throws -> any PolicyEvaluator {
        guard let opa else { return RuleEvaluator() }
        guard let url = URL(string: opa), url.scheme == "http" || url.scheme == "https" else { throw CLIFailure.usage("--opa \(opa): not an http(s) URL") }
        guard (0.1...60).contains(opaTimeout) else { throw CLIFailure.usage("--opa-timeout must be between 0.1 and 60 seconds") }
        return OPAEvaluator(server: url, path: opaPath, timeoutSeconds: opaTimeout)
    }
}
