import ArgumentParser
import EventStore
import Policies
import Healing
import Replication
import Trust
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `recoveryctl`: the operator's view of a RecoveryEngine store.
///
/// Exit codes: 0 success, 1 a detected problem (failed verification, conflict, corrupt store,
/// I/O error), 2 bad usage or bad input (arguments, input files, a missing or newer store).
@main
struct Recoveryctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recoveryctl",
        abstract: "Query, verify and maintain a RecoveryEngine event store.",
        discussion: "The store is --store PATH (before or after the subcommand), else $RECOVERY_STORE, else ./recovery-store.",
        subcommands: [Import.self, Query.self, Tail.self, Verify.self, Reindex.self, Stats.self,
                      ReplayCommand.self, DiffCommand.self, ProjectionsCommand.self, RebuildCommand.self,
                      DemoCommand.self, RollbackCommand.self, BreakersCommand.self, ActionsCommand.self,
                      SimulateCommand.self, KVCommand.self, SetCommand.self, CounterCommand.self, SyncCommand.self, CertsCommand.self, MetricsCommand.self, ServeCommand.self, BackupCommand.self, RestoreCommand.self, DrillCommand.self, AuditCommand.self, TimelineCommand.self, ShipCommand.self, ArchiveCommand.self, PolicyCommand.self, RunbookCommand.self])

    static func main() {
        let arguments = GlobalArguments.hoistStoreOption(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch let failure as CLIFailure {
            failure.report()
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                Glibc.exit(0)
            }
            let message = fullMessage(for: error).split(separator: "\n").first.map(String.init) ?? "\(error)"
            let cleaned = message.hasPrefix("Error: ") ? String(message.dropFirst(7)) : message
            CLIFailure(code: 2, message: cleaned + " (see 'recoveryctl help')").report()
        }
    }
}

/// A failure with the exit code it maps to; printed as one `recoveryctl: error:` line.
struct CLIFailure: Error {
    var code: Int32
    var message: String

    static func usage(_ message: String) -> CLIFailure { CLIFailure(code: 2, message: message) }

    init(code: Int32, message: String) {
        self.code = code
        self.message = message
    }

    init(_ error: StoreError) {
        self.init(code: error.isBadInput ? 2 : 1, message: error.description)
    }

    func report() -> Never {
        let line = "recoveryctl: error: " + message.replacingOccurrences(of: "\n", with: " ") + "\n"
        FileHandle.standardError.write(Data(line.utf8))
        Glibc.exit(code)
    }
}

/// Options every subcommand takes.
struct GlobalArguments: ParsableArguments {
    @Option(name: .customLong("store"), help: "The store directory (default $RECOVERY_STORE, else ./recovery-store).")
    var store: String?

    var storePath: String {
        store ?? Self.defaultStorePath
    }

    /// $RECOVERY_STORE, else ./recovery-store.
    static var defaultStorePath: String {
        if let env = getenv("RECOVERY_STORE"), let path = String(validatingCString: env), !path.isEmpty { return path }
        return "./recovery-store"
    }

    /// Opens an existing store for reading; a missing store is an error and nothing is created.
    func openExisting() throws -> EventStore {
        var options = Self.options
        options.create = false
        do { return try EventStore.open(at: storePath, options: options) } catch { throw CLIFailure(error) }
    }

    /// Opens the store for writing, creating it when missing.
    func openForWriting() throws -> EventStore {
        do { return try EventStore.open(at: storePath, options: Self.options) } catch { throw CLIFailure(error) }
    }

    /// Every store the CLI opens checks the payloads of the event types it knows, so an import
    /// or a rollback cannot write a malformed one.
    static var options: StoreOptions {
        var options = StoreOptions()
        options.vocabularies = [OperatorVocabulary(), HealingVocabulary(), ReplicationVocabulary(), TrustVocabulary()]
        return options
    }

    /// Moves `--store X` / `--store=X` from wherever it stands to after the subcommand, where
    /// the parser reads it, so the option works before or after the subcommand name (as
    /// kubectl's global flags do).
    static func hoistStoreOption(_ arguments: [String]) -> [String] {
        var rest: [String] = []
        var hoisted: [String] = []
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            if argument == "--" { rest.append(contentsOf: arguments[i...]); break }
            // All of them: `timeline export` takes several.
            if argument == "--store", i + 1 < arguments.count {
                hoisted += ["--store", arguments[i + 1]]
                i += 2
                continue
            }
            if argument.hasPrefix("--store=") {
                hoisted.append(argument)
                i += 1
                continue
            }
            rest.append(argument)
            i += 1
        }
        guard !hoisted.isEmpty else { return arguments }
        // Right after the subcommand name, so that an option that takes the rest of the line
        // (rollback --exec CMD ARGS...) cannot swallow it.
        let terminator = rest.firstIndex(of: "--") ?? rest.endIndex
        // After the subcommand path (`kv put`), at the end of the leading run of words.
        let firstWord = rest.firstIndex { !$0.hasPrefix("-") }
        let afterName = firstWord.map { start in rest[start...].firstIndex { $0.hasPrefix("-") } ?? rest.endIndex } ?? terminator
        rest.insert(contentsOf: hoisted, at: min(afterName, terminator))
        return rest
    }
}

/// Runs a store call, turning a `StoreError` into the CLI's failure.
func storeCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as StoreError { throw CLIFailure(error) }
}

func storeCall<T>(_ body: () async throws -> T) async throws -> T {
    do { return try await body() } catch let error as StoreError { throw CLIFailure(error) }
}

/// A domain's error that knows whether the caller's input caused it.
protocol ClassifiedError: Error, CustomStringConvertible {
    var isBadInput: Bool { get }
}

extension BackupError: ClassifiedError {}
extension PolicyError: ClassifiedError {}
extension HealingError: ClassifiedError {}

/// Runs a backup, policy or healing call, turning its error into the CLI's failure: exit 2 when
/// the input was wrong, 1 otherwise.
func domainCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as any ClassifiedError {
        throw CLIFailure(code: error.isBadInput ? 2 : 1, message: error.description)
    }
}

