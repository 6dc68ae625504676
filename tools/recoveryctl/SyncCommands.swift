import ArgumentParser
import EventStore
import Foundation
import Replication

struct SyncCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync", abstract: "Exchange replicated state with other stores: pull, export, import, status, gc, decommission.",
        subcommands: [Pull.self, Vector.self, Export.self, Import.self, Status.self, Collect.self, Decommission.self])

    struct Pull: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One sync round from another store on this machine (both directions is two pulls); then collect what is stable.")
        @OptionGroup var global: GlobalArguments
        @Option(help: "The other store's directory, or the URL of a `recoveryctl serve` (http://HOST:PORT).") var from: String
        @Option(help: "Operations per page (1 to 100000; a served peer sends its own page size).") var page = SyncLimits.pageOperations

        func run() throws {
            guard (1...SyncLimits.maximumOperations).contains(page) else { throw CLIFailure.usage("--page must be 1 to \(SyncLimits.maximumOperations)") }
            if from.hasPrefix("http://") || from.hasPrefix("https://") {
                guard let url = URL(string: from), url.host != nil else { throw CLIFailure.usage("--from \(from): not a URL") }
                let (replica, store) = try openReplica(global, create: true)
                defer { store.close() }
                let report = try replicationCall { try HTTPSyncClient(base: url, timeoutSeconds: 30).pull(into: replica) }
                let collected = try replicationCall { try replica.collectGarbage() }
                print("pulled \(report.delivered) operations from \(url.absoluteString)"
                      + (collected.map { "; collected \($0.tombstones) tombstones, \($0.dots) dots" } ?? ""))
                return
            }
            var options = GlobalArguments.options
            options.create = false
            let peerStore: EventStore
            do { peerStore = try EventStore.open(at: from, options: options) } catch { throw CLIFailure(error) }
            defer { peerStore.close() }
            let (replica, store) = try openReplica(global, create: true)
            defer { store.close() }
            let peer = try replicationCall { Replica(log: try StoreLog(store: peerStore)) }
            var pages = 0, bytes = 0
            let report = try replicationCall {
                try replica.pull { request in
                    let message = SyncCoding.encode(try peer.respond(to: SyncCoding.decodeRequest(SyncCoding.encode(request)), limit: page,
                                                                     acknowledging: pages == 0))
                    pages += 1
                    bytes += message.count
                    return message
                }
            }
            let delivered = report.delivered
            let collected = try replicationCall { try replica.collectGarbage() }
            print("pulled \(delivered) operations from \(peer.id) in \(pages) pages (\(bytes) bytes)"
                  + (collected.map { "; collected \($0.tombstones) tombstones, \($0.dots) dots" } ?? ""))
        }
    }

    struct Vector: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write this replica's vector as a sync request (JSON), for `sync export --since-vector` on another node.")
        @OptionGroup var global: GlobalArguments
        @Option(name: .shortAndLong, help: "Output file (default: standard output).") var output: String?

        func run() throws {
            let (replica, store) = try openReplica(global, create: true)
            defer { store.close() }
            let text = SyncJSON.encode(try replicationCall { try replica.syncRequest() }) + "\n"
            if let output { try writeFile(output, Array(text.utf8)) } else { print(text, terminator: "") }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write the operations a node lacks to a bundle file, in pages, for an air-gapped exchange.")
        @OptionGroup var global: GlobalArguments
        @Option(help: "The other node's vector: the output of `sync vector`, or a JSON object {replica: count}.") var sinceVector: String
        @Option(name: .shortAndLong, help: "The bundle file to write.") var output: String
        @Option(help: "Operations per page.") var page = SyncLimits.pageOperations

        func run() throws {
            guard (1...SyncLimits.maximumOperations).contains(page) else { throw CLIFailure.usage("--page must be 1 to \(SyncLimits.maximumOperations)") }
            let text = try readFile(sinceVector, limit: 16 << 20)
            var request: SyncRequest
            if let parsed = try? SyncJSON.decodeRequest(text) {
                request = parsed
            } else {
                do {
                    request = SyncRequest(replica: "bundle", vector: try ReplicatedOperation.vector(try JSONParser.parse(text), path: "vector"))
                } catch { throw CLIFailure.usage("\(sinceVector): neither a sync request nor a vector object: \(error)") }
            }
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            var bundle: [UInt8] = []
            var operations = 0, pages = 0
            try replicationCall {
                var first = true
                while true {
                    let response = try replica.respond(to: request, limit: page, acknowledging: first && request.replica != "bundle")
                    first = false
                    let frame = SyncCoding.encode(response)
                    bundle += withUnsafeBytes(of: UInt32(frame.count).bigEndian) { Array($0) } + frame
                    operations += response.operations.count
                    pages += 1
                    for op in response.operations { request.vector[op.dot.replica] = max(request.vector[op.dot.replica], op.dot.counter) }
                    if !response.more || response.operations.isEmpty { break }
                }
            }
            try writeFile(output, bundle)
            print("wrote \(operations) operations in \(pages) pages (\(bundle.count) bytes) to \(output)")
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply a bundle written by `sync export`; applying it twice changes nothing.")
        @OptionGroup var global: GlobalArguments
        @Argument var bundle: String

        func run() throws {
            let bytes = try readFile(bundle, limit: 1 << 32)
            let (replica, store) = try openReplica(global, create: true)
            defer { store.close() }
            var offset = 0, delivered = 0, duplicates = 0, frames = 0
            try replicationCall {
                while offset < bytes.count {
                    guard offset + 4 <= bytes.count else { throw ReplicationError.badMessage("bundle frame \(frames + 1): truncated length") }
                    let length = bytes[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
                    guard length <= bytes.count - offset - 4 else { throw ReplicationError.badMessage("bundle frame \(frames + 1): length beyond the file") }
                    let report = try replica.receive(try SyncCoding.decodeResponse(Array(bytes[offset + 4..<offset + 4 + length])))
                    delivered += report.delivered
                    duplicates += report.duplicates
                    offset += 4 + length
                    frames += 1
                }
            }
            print("applied \(delivered) operations from \(frames) pages (\(duplicates) already here, \(replica.waiting.count) waiting)")
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "This replica's vector, each member's acknowledged vector, the stable frontier, what waits for collection and who blocks it.")
        @OptionGroup var global: GlobalArguments
        @Option var format: StateFormat = .table

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            let state = try replicationCall { try replica.state() }
            let stability = state.stability(of: replica.id)
            if format == .json {
                let members: [String: EventValue] = state.members.mapValues { member in
                    var fields: [String: EventValue] = ["node": .string(member.node)]
                    if let after = member.decommissionedAfter { fields["decommissioned_after"] = .int(Int64(clamping: after)) }
                    return .map(fields)
                }
                print(JSONWriter.encode([
                    "replica": .string(replica.id), "vector": .map(state.vector.counters.mapValues { .int(Int64(clamping: $0)) }),
                    "acknowledged": .map(state.acknowledged.mapValues { .map($0.counters.mapValues { .int(Int64(clamping: $0)) }) }),
                    "members": .map(members), "stable": .map(stability.frontier.counters.mapValues { .int(Int64(clamping: $0)) }),
                    "collected": .map(state.collected.counters.mapValues { .int(Int64(clamping: $0)) }),
                    "pending": ["tombstones": .int(Int64(stability.tombstones)), "dots": .int(Int64(stability.dots))],
                    "blockers": .map(stability.blockers.mapValues { .string($0) }),
                ]))
                return
            }
            print("replica:   \(replica.id) (node \(store.nodeID))")
            print("vector:    \(state.vector)")
            print("stable:    \(stability.frontier)")
            print("collected: \(state.collected) (\(state.tombstonesRemoved) tombstones, \(state.dotsCompacted) dots so far)")
            print("pending:   \(stability.tombstones) tombstones, \(stability.dots) dots would be collected now")
            print("members:")
            for (id, member) in state.members.sorted(by: { $0.key < $1.key }) {
                let ack = id == replica.id ? "(this replica)" : (state.acknowledged[id].map { "acknowledged \($0)" } ?? "acknowledged nothing")
                let gone = member.decommissionedAfter.map { " decommissioned after \($0) ops" } ?? ""
                print("  " + pad(id, 20) + pad(member.node, 18) + ack + gone)
            }
            for (member, reason) in stability.blockers.sorted(by: { $0.key < $1.key }) { print("blocked by \(member): \(reason)") }
        }
    }

    struct Collect: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "gc", abstract: "Collect what is causally stable (recorded as crdt.gc).")
        @OptionGroup var global: GlobalArguments

        func run() throws {
            let (replica, store) = try openReplica(global, create: false)
            defer { store.close() }
            guard let collected = try replicationCall({ try replica.collectGarbage() }) else { print("nothing new is stable"); return }
            print("collected through \(collected.stable): \(collected.tombstones) tombstones, \(collected.dots) dots")
        }
    }

    struct Decommission: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Record that member REPLICA left for good: collection stops waiting for it and its later operations are refused.")
        @OptionGroup var global: GlobalArguments
        @Argument var replica: String

        func run() throws {
            let (local, store) = try openReplica(global, create: false)
            defer { store.close() }
            let dot = try replicationCall { try local.decommission(replica) }
            print("\(replica) decommissioned as \(dot)")
        }
    }
}

func readFile(_ path: String, limit: Int) throws -> [UInt8] {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw CLIFailure.usage("cannot read \(path)") }
    defer { try? handle.close() }
    let data = (try? handle.read(upToCount: limit + 1)) ?? nil
    guard let data else { return [] }
    guard data.count <= limit else { throw CLIFailure.usage("\(path) is larger than \(limit) bytes") }
    return Array(data)
}

func writeFile(_ path: String, _ bytes: [UInt8]) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else { throw CLIFailure(code: 1, message: "cannot write \(path)") }
}
