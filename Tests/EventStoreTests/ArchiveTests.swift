import EventStore
import Foundation
import TestKit
import Testing

@Suite("Retention: archive")
struct ArchiveTests {
    static func openExisting(_ path: String) throws -> EventStore { try BackupRestoreTests.openExisting(path) }

    static func digests(_ store: String, atSeq seq: UInt64? = nil) throws -> String {
        let result = try recoveryctl(["replay", "--store", store, "--digest"] + (seq.map { ["--at-seq", "\($0)"] } ?? []))
        #expect(result.status == 0, "\(result.stderr)")
        return result.stdout
    }

    @Test("archive round trip: the archived events leave the store and its indexes, projections and verify go on from the anchor, queries name the archive, and base + segments restore the whole log")
    func roundTrip() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store", archive = dir.path + "/archive", shipped = dir.path + "/shipped"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        #expect(try recoveryctl(["backup", "--store", store, "--to", dir.path + "/base"]).status == 0)
        for round in 0..<3 { #expect(try recoveryctl(["kv", "put", "k\(round)", "\(round)", "--store", store]).status == 0) }
        let (before, digestsBefore, through) = try {
            let live = try Self.openExisting(store)
            defer { live.close() }
            let head = try live.head()
            return (head, try Self.digests(store), head.seq - 2)
        }()

        let archived = try recoveryctl(["archive", "--store", store, "--through-seq", "\(through)", "--to", archive])
        #expect(archived.status == 0, "\(archived.stderr)")
        #expect(archived.stdout.contains("archived seq 1 .. \(through) (\(through) events)"))
        let segment = archive + "/" + LogSegment.fileName(first: 1, last: through)
        #expect(try recoveryctl(["verify", "--export", segment]).status == 0)

        let live = try Self.openExisting(store)
        // Gone from the log and its indexes; the chain goes on from the anchor.
        #expect(throws: StoreError.archived(seq: 1, liveFrom: through + 1, location: segment)) { try live.event(at: 1) }
        #expect(try live.read().collect().first?.seq == through + 1)
        #expect(try live.query(EventQuery(type: "topology.declared")).collect().isEmpty)
        let report = try live.verify()
        #expect(report.ok, "\(report.problems)")
        #expect(report.archiveAnchor?.seq == through && report.eventsChecked == before.seq - through + 1)
        #expect(try live.verify(anchors: [Anchor(seq: through, hash: report.archiveAnchor?.hash ?? .zero)]).ok)
        #expect(try !live.verify(anchors: [Anchor(seq: 1, hash: .zero)]).ok)
        let recorded = try live.query(EventQuery(type: "store.archived")).collect()
        #expect(recorded.count == 1 && recorded.first?.data["through_seq"] == .int(Int64(through)) && recorded.first?.data["archive"] == .string(segment))
        live.close()

        // Every projection answers at the head as before (plus the store.archived event), from
        // the snapshots at the anchor; a point inside the archive says where it is.
        #expect(try Self.digests(store, atSeq: before.seq) == digestsBefore)
        let old = try recoveryctl(["replay", "--store", store, "--at-seq", "\(through - 1)"])
        #expect(old.status == 2 && old.stderr.contains("seq \(through - 1) is archived") && old.stderr.contains(segment), "\(old.stderr)")
        let verify = try recoveryctl(["verify", "--store", store])
        #expect(verify.status == 0 && verify.stdout.contains("from the archive anchor: \(through):"), "\(verify.stdout)")

        // Queries reaching into the archive say where it is; the store answers with what it holds.
        let query = try recoveryctl(["query", "--store", store, "--format", "jsonl"])
        #expect(query.status == 0 && query.stderr.contains("seq 1 .. \(through)") && query.stderr.contains(segment))
        #expect(query.stdout.split(separator: "\n").count == Int(before.seq - through + 1))
        let recent = try recoveryctl(["query", "--store", store, "--from-seq", "\(through + 1)"])
        #expect(recent.status == 0 && !recent.stderr.contains("archived"))

        // The store keeps working: appends, the healing engine (from its snapshots), a drill.
        #expect(try recoveryctl(["kv", "put", "after", "1", "--store", store]).status == 0)
        #expect(try recoveryctl(["breakers", "--store", store, "--force-open", "service/api", "--reason", "after the archive"]).status == 0)
        #expect(try recoveryctl(["breakers", "--store", store]).stdout.contains("service/api"))
        for listing in [["policy", "list"], ["runbook", "list"], ["metrics"]] {
            let listed = try recoveryctl(listing + ["--store", store])
            #expect(listed.status == 0, "\(listing): \(listed.stderr)")
        }
        let drill = try recoveryctl(["drill", "--store", store])
        #expect(drill.status == 0 && drill.stdout.contains("drill: ok"), "\(drill.stdout)\(drill.stderr)")
        #expect(try recoveryctl(["ship", "--store", store, "--to", shipped]).status == 0)

        // Base backup + the archive's segment + shipped segments: the whole log again.
        let restored = try recoveryctl(["restore", "--from", dir.path + "/base", "--to", dir.path + "/restored", "--segments", archive, "--segments", shipped])
        #expect(restored.status == 0, "\(restored.stderr)")
        let (copy, current) = (try Self.openExisting(dir.path + "/restored"), try Self.openExisting(store))
        defer { copy.close(); current.close() }
        #expect(try copy.head() == current.head())
        #expect(try copy.verify().ok && copy.archiveAnchor() == nil)
        #expect(try copy.event(at: 1) != nil)
    }

    @Test("archiving again moves the anchor on; a range outside the live log is refused with exit 2 and nothing changes")
    func refusals() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store", archive = dir.path + "/archive"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        #expect(try recoveryctl(["archive", "--store", store, "--through-seq", "10", "--to", archive]).status == 0)
        for absurd in ["10", "5", "0", "18446744073709551615"] {
            let refused = try recoveryctl(["archive", "--store", store, "--through-seq", absurd, "--to", archive])
            #expect(refused.status == 2 && refused.stderr.contains("cannot archive through seq"), "\(absurd): \(refused.stderr)")
        }
        let file = dir.path + "/file"
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try recoveryctl(["archive", "--store", store, "--through-seq", "20", "--to", file]).status == 2)
        #expect(try recoveryctl(["archive", "--store", store, "--through-seq", "20", "--to", archive]).status == 0)
        let live = try Self.openExisting(store)
        defer { live.close() }
        let marks = try live.archives()
        #expect(marks.map(\.firstSeq) == [1, 11] && marks.map(\.throughSeq) == [10, 20])
        #expect(try live.verify().ok)
        // Both segments chain: together they verify as one slice.
        let joined = try marks.map { try String(contentsOfFile: $0.location, encoding: .utf8) }.joined()
        try joined.write(toFile: dir.path + "/joined.jsonl", atomically: true, encoding: .utf8)
        #expect(try recoveryctl(["verify", "--export", dir.path + "/joined.jsonl"]).status == 0)
    }

    @Test("a store whose every event was archived goes on from its anchor: the head is the anchor, the next append links to it")
    func everythingArchived() throws {
        let dir = TemporaryDirectory()
        let store = try EventStore.open(at: dir.store())
        defer { store.close() }
        for i in 0..<10 { _ = try store.appendBlocking([NewEvent(type: "operator.note", stream: "notes", data: ["i": .int(Int64(i))])]) }
        let head = try store.head()
        try FileManager.default.createDirectory(atPath: dir.path + "/archive", withIntermediateDirectories: true)
        let segment = try LogSegment.write(store, first: 1, last: head.seq, into: dir.path + "/archive")
        #expect(LogSegment.check(segment.path, prev: .zero, head: Anchor(seq: head.seq, hash: head.hash), sha256: segment.sha256) == nil)
        try store.removeArchived(through: head.seq, location: segment.path, segmentSHA256: segment.sha256)
        #expect(try store.head() == head)
        #expect(try store.read().collect().isEmpty)
        let next = try store.appendBlocking([NewEvent(type: "operator.note", stream: "notes", data: ["i": 10])])
        #expect(next.positions == [head.seq + 1])
        #expect(try store.event(at: head.seq + 1)?.prev == head.hash)
        #expect(try store.verify().ok)
        // The stream's version goes on; the id index still knows the archived events.
        #expect(try store.streamVersion("notes") == 11)
        // An altered segment no longer checks.
        var bytes = try Data(contentsOf: URL(fileURLWithPath: segment.path))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: segment.path))
        #expect(LogSegment.check(segment.path, prev: .zero, head: Anchor(seq: head.seq, hash: head.hash), sha256: segment.sha256) != nil)
    }
}
