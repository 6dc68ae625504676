import Foundation
import Testing
@testable import EventStore

/// Real processes, real kills, real files. Serialized: these fsync heavily and spawn children.
@Suite("Durability: crashes, other processes, bad files, full disks", .serialized)
struct DurabilityTests {
    /// How many SIGKILLs the crash test delivers (RECOVERY_CRASH_KILLS raises it for long runs).
    static var kills: Int { Int(ProcessInfo.processInfo.environment["RECOVERY_CRASH_KILLS"] ?? "") ?? 20 }

    @Test("every acknowledged append survives SIGKILL at random moments, and the store verifies")
    func crashSafety() throws {
        let dir = TemporaryDirectory()
        var rng = SplitMix64(seed: 2026)
        var acknowledged: UInt64 = 0
        for round in 0..<Self.kills {
            let child = try ChildProcess(Executables.crashHelper, [dir.store(), "append", "--batch", "\(1 + rng.next() % 20)"])
            let target = Int(1 + rng.next() % 40)
            #expect(child.waitFor { $0.filter { $0.hasPrefix("ack ") }.count >= target }, "round \(round): child never acknowledged")
            child.kill()
            acknowledged = max(acknowledged, child.acknowledged.last ?? 0)
            var options = StoreOptions()
            options.create = false
            let store = try EventStore.open(at: dir.store(), options: options)
            let head = try store.head().seq
            #expect(head >= acknowledged, "round \(round): acknowledged \(acknowledged) but head is \(head)")
            let report = try store.verify()
            #expect(report.ok, "round \(round): \(report.problems)")
            store.close()
        }
        #expect(acknowledged > 0)
    }

    @Test("a reader in this process sees a consistent prefix while another process appends")
    func readerWhileWriterAppends() throws {
        let dir = TemporaryDirectory()
        let writer = try ChildProcess(Executables.crashHelper, [dir.store(), "append", "--batch", "50", "--max", "20000"])
        #expect(writer.waitFor { $0.contains("ready") })
        var options = StoreOptions()
        options.create = false
        let reader = try EventStore.open(at: dir.store(), options: options)
        defer { reader.close() }
        var lastHead: UInt64 = 0
        var checks = 0
        while !writer.output.contains("done") && checks < 400 {
            let events = try reader.read().collect()
            // A consistent prefix: dense positions from 1, an unbroken chain, whole batches only.
            #expect(events.map(\.seq) == Array(1...UInt64(max(events.count, 1))).prefix(events.count).map { $0 })
            for (a, b) in zip(events, events.dropFirst()) { #expect(b.prev == a.hash) }
            #expect(events.count % 50 == 0)
            #expect(UInt64(events.count) >= lastHead)
            lastHead = UInt64(events.count)
            let tick = try reader.query(EventQuery(stream: "tick/3")).collect()
            #expect(tick.map(\.version) == Array(1...UInt64(max(tick.count, 1))).prefix(tick.count).map { $0 })
            checks += 1
        }
        #expect(writer.waitFor(timeout: 120) { $0.contains("done") })
        writer.process.waitUntilExit()
        let report = try reader.verify()
        #expect(report.ok && report.headSeq == 20000, "\(report.problems)")
        #expect(checks > 1)
    }

    @Test("two processes appending to one store keep positions, versions and clocks monotonic")
    func twoWriterProcesses() throws {
        let dir = TemporaryDirectory()
        _ = try makeStore(dir) // create it first, so neither child races to create
        let a = try ChildProcess(Executables.crashHelper, [dir.store(), "append", "--batch", "25", "--max", "2000"])
        let b = try ChildProcess(Executables.crashHelper, [dir.store(), "append", "--batch", "25", "--max", "2000"])
        #expect(a.waitFor(timeout: 120) { $0.contains("done") })
        #expect(b.waitFor(timeout: 120) { $0.contains("done") })
        var options = StoreOptions()
        options.create = false
        let store = try EventStore.open(at: dir.store(), options: options)
        defer { store.close() }
        let events = try store.read().collect()
        #expect(events.count == 4000)
        let hlcs = events.map(\.hlc)
        #expect(zip(hlcs, hlcs.dropFirst()).allSatisfy { $0 < $1 })
        for s in 0..<7 {
            let versions = events.filter { $0.stream == "tick/\(s)" }.map(\.version)
            #expect(versions == Array(1...UInt64(versions.count)))
        }
        #expect(Set(events.map { $0.data["pid"] }).count == 2) // both processes wrote
        #expect(try store.verify().ok)
    }

    @Test("concurrent appenders are group-committed without gaps, duplicates or version holes")
    func groupCommit() async throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        defer { store.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for task in 0..<8 {
                group.addTask {
                    for call in 0..<1_000 {
                        // Ten events per call; half of them go to streams every task shares.
                        let batch = (0..<10).map { k -> NewEvent in
                            let n = call * 10 + k
                            let stream = n % 2 == 0 ? "shared/\(n % 6)" : "own/\(task)"
                            return NewEvent(type: "t", stream: stream, data: ["task": .int(Int64(task)), "n": .int(Int64(n))])
                        }
                        _ = try await store.append(batch)
                    }
                }
            }
            try await group.waitForAll()
        }
        let events = try store.read().collect()
        #expect(events.map(\.seq) == Array(1...80_000))
        #expect(Set(events.map(\.id)).count == 80_000)
        var perTask: [Int64: [Int64]] = [:]
        for e in events { perTask[e.data["task"]?.intValue ?? -1, default: []].append(e.data["n"]?.intValue ?? -1) }
        for (_, ns) in perTask { #expect(ns == Array(0..<10_000)) } // each task's order kept
        for stream in Set(events.map(\.stream)) {
            #expect(try store.read(stream: stream).collect().map(\.version) == Array(1...UInt64(events.filter { $0.stream == stream }.count)))
        }
        let metrics = store.metrics
        #expect(metrics.appendCalls == 8_000)
        #expect(metrics.transactions < metrics.appendCalls, "group commit: \(metrics.transactions) transactions")
        #expect(try store.verify().ok)
    }

    @Test("a store opened with a 1 MiB map takes 100 MB of events")
    func mapGrowth() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir) { $0.mapSize = 1 << 20 }
        defer { store.close() }
        let payload = String(repeating: "m", count: 1000)
        for batch in 0..<100 {
            _ = try store.appendBlocking((0..<1000).map { n in event("test.event", stream: "grow/\(n % 10)", ["b": .int(Int64(batch)), "p": .string(payload)]) })
        }
        let stats = try store.stats()
        #expect(stats.count == 100_000)
        #expect(stats.mapSize > 100_000_000)
        #expect(store.metrics.mapGrowths > 0)
        let report = try store.verify()
        #expect(report.ok, "\(report.problems)")
    }

    @Test("a full disk fails the append with a typed error and leaves every acknowledged event intact")
    func diskFull() throws {
        let dir = TemporaryDirectory()
        let child = try ChildProcess(Executables.crashHelper, [dir.store(), "append", "--batch", "100", "--fsize-limit", "3000000"])
        #expect(child.waitFor(timeout: 60) { $0.contains { $0.hasPrefix("error") } })
        child.process.waitUntilExit()
        let error = child.output.first { $0.hasPrefix("error") } ?? ""
        #expect(error.contains("no space left"), "\(error)")
        let acknowledged = child.acknowledged.last ?? 0
        #expect(acknowledged > 0)
        var options = StoreOptions()
        options.create = false
        let store = try EventStore.open(at: dir.store(), options: options)
        defer { store.close() }
        #expect(try store.head().seq == acknowledged)
        #expect(try store.verify().ok)
    }

    @Test("one altered byte in data.mdb is found by verify, which names its seq")
    func tamperEvidence() throws {
        let dir = TemporaryDirectory()
        do {
            let store = try makeStore(dir)
            _ = try store.appendBlocking((0..<50).map { event("test.event", ["note": .string("ordinary-\($0)")]) })
            _ = try store.appendBlocking([event("test.event", ["note": "TAMPER-TARGET-1234"])])
            _ = try store.appendBlocking((0..<50).map { event("test.event", ["note": .string("later-\($0)")]) })
            store.close()
        }
        let file = dir.store() + "/data.mdb"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
        // LMDB copies pages on write, so stale copies of the record may sit in free pages: alter
        // every copy, as an attacker editing the file would have to.
        let marker = Array("TAMPER-TARGET-1234".utf8)
        let copies = (0...(bytes.count - marker.count)).filter { bytes[$0..<$0 + marker.count].elementsEqual(marker) }
        #expect(!copies.isEmpty)
        for at in copies { bytes[at + 7] = UInt8(ascii: "X") }
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let store = try makeStore(dir)
        defer { store.close() }
        let report = try store.verify()
        #expect(!report.ok)
        #expect(report.firstBadSeq == 51)
        let cli = try recoveryctl(["verify", "--store", dir.store()])
        #expect(cli.status == 1)
        #expect(cli.stdout.contains("FAILED at seq 51"))
        #expect(cli.stderr.hasPrefix("recoveryctl: error:"))
    }

    @Test("a truncated data.mdb is reported before LMDB maps it")
    func truncatedFile() throws {
        let dir = TemporaryDirectory()
        do {
            let store = try makeStore(dir)
            _ = try store.appendBlocking((0..<5000).map { event("test.event", ["n": .int(Int64($0))]) })
            store.close()
        }
        let file = dir.store() + "/data.mdb"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
        #expect(truncate(file, off_t(size / 2)) == 0)
        #expect {
            _ = try makeStore(dir)
        } throws: { error in
            guard case StoreError.truncated = error else { return false }
            return true
        }
        let cli = try recoveryctl(["stats", "--store", dir.store()])
        #expect(cli.status == 1)
        #expect(cli.stderr.contains("truncated"))
    }

    @Test("directories that are not stores, foreign files and newer formats are refused clearly")
    func notAStore() throws {
        let dir = TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.store("docs"), withIntermediateDirectories: true)
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir.store("docs") + "/readme.txt"))
        #expect(throws: StoreError.notAStore(path: dir.store("docs"), reason: "the directory holds other files and no data.mdb")) {
            try EventStore.open(at: dir.store("docs"))
        }
        try FileManager.default.createDirectory(atPath: dir.store("fake"), withIntermediateDirectories: true)
        try Data(repeating: 7, count: 8192).write(to: URL(fileURLWithPath: dir.store("fake") + "/data.mdb"))
        #expect(throws: StoreError.notAStore(path: dir.store("fake"), reason: "data.mdb is not an LMDB file")) {
            try EventStore.open(at: dir.store("fake"))
        }
        #expect(throws: StoreError.notAStore(path: dir.store("docs") + "/readme.txt", reason: "it is a file, not a store directory")) {
            try EventStore.open(at: dir.store("docs") + "/readme.txt")
        }
        var readOnly = StoreOptions()
        readOnly.create = false
        #expect(throws: StoreError.storeNotFound(path: dir.store("absent"))) { try EventStore.open(at: dir.store("absent"), options: readOnly) }
        #expect(!FileManager.default.fileExists(atPath: dir.store("absent")))
        // A store from a newer release: bump its format marker from outside.
        do {
            let store = try makeStore(dir)
            _ = try store.appendBlocking([event()])
            _ = try store.env.write { txn in try txn.put(txn.dbs.meta, Key.text("format"), [9]) }
            store.close()
        }
        #expect(throws: StoreError.newerFormat(path: dir.store(), found: 9, supported: EventStore.formatVersion)) { try makeStore(dir) }
        let cli = try recoveryctl(["query", "--store", dir.store()])
        #expect(cli.status == 2)
        #expect(cli.stderr.contains("upgrade RecoveryEngine"))
    }

    @Test("mdb_stat, from outside, lists the named databases with the expected counts")
    func mdbStatFromOutside() throws {
        let dir = TemporaryDirectory()
        do {
            let store = try makeStore(dir)
            _ = try store.appendBlocking((0..<120).map { n in event("t.\(n % 3)", stream: "s/\(n % 4)", tags: ["service": "api"]) })
            try store.reindex()
            store.close()
        }
        let output = try run("/usr/bin/mdb_stat", ["-a", dir.store()]).stdout
        func entries(_ name: String) -> Int? {
            guard let section = output.components(separatedBy: "Status of \(name)\n").dropFirst().first else { return nil }
            let line = section.split(separator: "\n").first { $0.contains("Entries:") }
            return line.flatMap { Int($0.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") }
        }
        #expect(entries("events") == 120)
        #expect(entries("ids") == 120)
        #expect(entries("heads") == 4)
        #expect(entries("streams") == 120)
        #expect(entries("types") == 120)
        #expect(entries("tags") == 240) // node and service per event
        #expect(entries("time") == 120)
        #expect(entries("meta") == 5) // format, node, created, clock, replica
    }
}
