import ArgumentParser
import EventStore
import Foundation
import Replication

/// Opens the store's replica: for writing (creating the store) or on an existing store.
func openReplica(_ global: GlobalArguments, create: Bool) throws -> (Replica, EventStore) {
    let store = try create ? global.openForWriting() : global.openExisting()
    return (try replicationCall { Replica(log: try StoreLog(store: store)) }, store)
}

/// Runs a replication call, mapping its errors to exit codes: refused writes and messages 1,
/// store errors as the store's.
func replicationCall<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let error as ReplicationError {
        if case .store(let storeError) = error { throw CLIFailure(storeError) }
        throw CLIFailure(code: 1, message: error.description)
    }
}

/// A VALUE argument: JSON when it parses as JSON, otherwise the text itself.
func parseValue(_ text: String) -> EventValue {
    (try? JSONParser.parse(text)) ?? .string(text)
}

func render(_ value: EventValue) -> String { value.stringValue ?? JSONWriter.encode(value) }

struct MapOptions: ParsableArguments {
    @Option(help: "The replicated map.") var map = "default"
}

extension Strategy: ExpressibleByArgument {}

struct KVCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kv", abstract: "Replicated maps: put, get, delete, list, conflicts, resolve.",
        discussion: "Every write is a crdt.op event in the log. A key's strategy is fixed by its first write.",
        subcommands: [Put.self, Get.self, Del.self, List.self, Conflicts.self, Resolve.self])

    struct Put: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write VALUE (JSON, or else text) under KEY; the first write creates the store.")
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Option(help: "last_write_wins (default), vector_clock, merge_all or manual; only on a key's first write.") var strategy: Strategy?
        @Argument var key: String
        @Argument var value: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: true)
            defer { store.close() }
            if let strategy, !strategy.isRegister { throw CLIFailure.usage("--strategy \(strategy.rawValue) is for `set` and `counter`") }
            let dot = try replicationCall { try replica.put(map: map.map, key: key, value: parseValue(value), strategy: strategy) }
            print("\(key) written as \(dot)")
        }
    }

    struct Get: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print every current value of KEY, one per line (several under merge_all or an open manual conflict).")
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Option var format: StateFormat = .table
        @Argument var key: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            let values = try replicationCall { try replica.values(map: map.map, key: key) }
            if format == .json { print(JSONWriter.encode(.array(values))); return }
            guard !values.isEmpty else { throw CLIFailure(code: 1, message: "map '\(map.map)' has no key '\(key)'") }
            for value in values { print(render(value)) }
        }
    }

    struct Del: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete KEY (a tombstone until garbage collection).")
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Argument var key: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            let dot = try replicationCall { try replica.delete(map: map.map, key: key) }
            print("\(key) deleted as \(dot)")
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every live key of every map (or of --map) with its strategy and values.")
        @OptionGroup var global: GlobalArguments
        @Option(help: "Only this map.") var map: String?
        @Option var format: StateFormat = .table

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            guard case .map(var maps) = try replicationCall({ try replica.state().visible }) else { return }
            if let map { maps = maps.filter { $0.key == map } }
            if format == .json { print(JSONWriter.encode(.map(maps))); return }
            print(pad("MAP", 14) + pad("KEY", 24) + pad("STRATEGY", 16) + "VALUES")
            for (name, keys) in maps.sorted(by: { $0.key < $1.key }) {
                for (key, entry) in (keys.mapValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    guard case .array(let values)? = entry["values"] else { continue }
                    let conflict = entry["conflict"] == true ? "  (open conflict)" : ""
                    print(pad(name, 14) + pad(key, 24) + pad(entry["strategy"]?.stringValue ?? "", 16) + values.map(render).joined(separator: " | ") + conflict)
                }
            }
        }
    }

    struct Conflicts: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Manual keys with open conflicts, and vector_clock conflicts recorded.")
        @OptionGroup var global: GlobalArguments

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            let state = try replicationCall { try replica.state() }
            var open = 0
            for (name, keys) in state.maps.sorted(by: { $0.key < $1.key }) {
                for (key, entry) in keys.sorted(by: { $0.key < $1.key }) where entry.hasOpenConflict {
                    open += 1
                    print("\(name)/\(key): " + entry.siblings.map { ($0.value.map(render) ?? "(deleted)") + ($0.dot.map { " @\($0)" } ?? "") }.joined(separator: " | "))
                }
            }
            print("\(open) open conflicts; \(state.conflictsRecorded) vector_clock conflicts recorded (query --type crdt.conflict)")
        }
    }

    struct Resolve: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Settle a manual key's open conflict with VALUE.")
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Argument var key: String
        @Argument var value: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            let dot = try replicationCall { try replica.resolve(map: map.map, key: key, value: parseValue(value)) }
            print("\(key) resolved as \(dot)")
        }
    }
}

struct SetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set", abstract: "Add-wins replicated sets (quarantine lists): add, remove, list.",
        subcommands: [Add.self, Remove.self, List.self])

    struct Add: ParsableCommand {
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Argument var name: String
        @Argument var element: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: true)
            defer { store.close() }
            let dot = try replicationCall { try replica.add(map: map.map, set: name, element: parseValue(element)) }
            print("added to \(name) as \(dot)")
        }
    }

    struct Remove: ParsableCommand {
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Argument var name: String
        @Argument var element: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            let dot = try replicationCall { try replica.remove(map: map.map, set: name, element: parseValue(element)) }
            print("removed from \(name) as \(dot)")
        }
    }

    struct List: ParsableCommand {
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Option var format: StateFormat = .table
        @Argument var name: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            let values = try replicationCall { try replica.values(map: map.map, key: name) }
            if format == .json { print(JSONWriter.encode(.array(values))) } else { for value in values { print(render(value)) } }
        }
    }
}

struct CounterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "counter", abstract: "Replicated counters (PN-counter): add, get.", subcommands: [Add.self, Get.self])

    struct Add: ParsableCommand {
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Argument var name: String
        @Argument(help: "A signed amount within ±2^53.") var amount: Int64

        func run() throws {
            let (replica, store) = try openReplica(global, create: true)
            defer { store.close() }
            let dot = try replicationCall { try replica.increment(map: map.map, counter: name, by: amount) }
            print("\(name) changed by \(amount) as \(dot)")
        }
    }

    struct Get: ParsableCommand {
        @OptionGroup var global: GlobalArguments
        @OptionGroup var map: MapOptions
        @Argument var name: String

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            print(try replicationCall { try replica.values(map: map.map, key: name) }.first.map(render) ?? "0")
        }
    }
}
