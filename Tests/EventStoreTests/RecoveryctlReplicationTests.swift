import EventStore
import Foundation
import Testing

@Suite("recoveryctl kv, set, counter and sync")
struct RecoveryctlReplicationTests {
    func ok(_ arguments: [String]) throws -> String {
        let result = try recoveryctl(arguments)
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        return result.stdout
    }

    @Test("three stores synced through sync pull converge; replay --at-seq shows the replicated map as it was then")
    func threeStores() throws {
        let dir = TemporaryDirectory()
        let (a, b, c) = (dir.store("a"), dir.store("b"), dir.store("c"))
        _ = try ok(["kv", "put", "--store", a, "primary", "eu-west"])
        // b and c join a's group by pulling before they write.
        _ = try ok(["sync", "pull", "--store", b, "--from", a])
        _ = try ok(["sync", "pull", "--store", c, "--from", a])
        _ = try ok(["kv", "put", "--store", b, "--strategy", "merge_all", "note", "from b"])
        _ = try ok(["kv", "put", "--store", c, "--strategy", "merge_all", "note", "from c"])
        _ = try ok(["kv", "put", "--store", a, "--strategy", "manual", "region", "eu"])
        _ = try ok(["kv", "put", "--store", c, "--strategy", "manual", "region", "us"])
        _ = try ok(["set", "add", "--store", b, "quarantine", "node-7"])
        _ = try ok(["counter", "add", "--store", c, "restarts", "--", "-2"])
        _ = try ok(["counter", "add", "--store", a, "restarts", "5"])
        for _ in 0..<2 {
            for (x, y) in [(a, b), (b, c), (c, a), (a, c), (b, a), (c, b)] { _ = try ok(["sync", "pull", "--store", x, "--from", y]) }
        }
        let lists = try [a, b, c].map { try ok(["kv", "list", "--format", "json", "--store", $0]) }
        #expect(Set(lists).count == 1)
        let note = try ok(["kv", "get", "--store", a, "note"])
        #expect(note == "from b\nfrom c\n")
        #expect(try ok(["kv", "conflicts", "--store", b]).contains("default/region"))
        #expect(try ok(["counter", "get", "--store", b, "restarts"]) == "3\n")
        #expect(try ok(["set", "list", "--store", c, "quarantine"]) == "node-7\n")
        // A plain write on the open conflict is refused (exit 1); a resolve settles it everywhere.
        #expect(try recoveryctl(["kv", "put", "--store", a, "region", "ap"]).status == 1)
        _ = try ok(["kv", "resolve", "--store", a, "region", "eu"])
        _ = try ok(["sync", "pull", "--store", b, "--from", a])
        #expect(try ok(["kv", "get", "--store", b, "region"]) == "eu\n")
        // Time travel: at the seq of b's first write, b held only a's primary and its own note.
        let events = try ok(["query", "--type", "crdt.op", "--format", "jsonl", "--store", b]).split(separator: "\n")
        let firstOwn = try #require(events.first { $0.contains("\"note\"") })
        guard case .map(let fields) = try JSONParser.parse(String(firstOwn)), let seq = fields["seq"]?.intValue else { Issue.record("no seq"); return }
        let replayed = try ok(["replay", "--projection", "replicated", "--at-seq", "\(seq)", "--format", "json", "--store", b])
        #expect(replayed.contains("eu-west") && replayed.contains("from b") && !replayed.contains("from c"))
        #expect(try ok(["stats", "--store", a]).contains("replica:"))
        #expect(try ok(["sync", "status", "--store", a]).contains("members:"))
    }

    @Test("bundles: export what a node lacks, import it twice; the second import changes nothing")
    func bundles() throws {
        let dir = TemporaryDirectory()
        let (a, b) = (dir.store("a"), dir.store("b"))
        for i in 0..<25 { _ = try ok(["kv", "put", "--store", a, "k\(i)", "\(i)"]) }
        _ = try ok(["sync", "vector", "--store", b, "-o", dir.path + "/b.vector"])
        let exported = try ok(["sync", "export", "--store", a, "--since-vector", dir.path + "/b.vector", "--page", "10", "-o", dir.path + "/bundle"])
        #expect(exported.contains("27 operations in 3 pages")) // a's join, 25 writes, b's admission
        _ = try ok(["sync", "import", "--store", b, dir.path + "/bundle"])
        let head = try ok(["verify", "--store", b])
        let again = try ok(["sync", "import", "--store", b, dir.path + "/bundle"])
        #expect(again.contains("applied 0 operations"))
        #expect(try ok(["verify", "--store", b]) == head)
        #expect(try ok(["kv", "get", "--store", b, "k24"]) == "24\n")
        // A damaged bundle is refused whole, exit 1.
        var bytes = try Array(Data(contentsOf: URL(fileURLWithPath: dir.path + "/bundle")))
        bytes.removeLast(5)
        try Data(bytes).write(to: URL(fileURLWithPath: dir.path + "/bad"))
        #expect(try recoveryctl(["sync", "import", "--store", dir.store("c"), dir.path + "/bad"]).status == 1)
    }

    @Test("bad usage is exit 2: a missing store, a bad strategy, an absurd page or amount")
    func badUsage() throws {
        let dir = TemporaryDirectory()
        #expect(try recoveryctl(["kv", "get", "--store", dir.store("none"), "k"]).status == 2)
        #expect(try recoveryctl(["kv", "put", "--store", dir.store(), "--strategy", "bogus", "k", "v"]).status == 2)
        _ = try ok(["kv", "put", "--store", dir.store(), "k", "v"])
        #expect(try recoveryctl(["sync", "pull", "--store", dir.store(), "--from", dir.store("none")]).status == 2)
        #expect(try recoveryctl(["sync", "pull", "--store", dir.store(), "--from", dir.store(), "--page", "99999999999"]).status == 2)
        #expect(try recoveryctl(["counter", "add", "--store", dir.store(), "c", "99999999999999999999"]).status == 2)
        #expect(try recoveryctl(["counter", "add", "--store", dir.store(), "c", "9007199254740993"]).status == 1)
        #expect(try recoveryctl(["kv", "put", "--store", dir.store(), "--strategy", "merge_all", "k", "v"]).status == 1)
    }
}
