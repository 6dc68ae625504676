import Foundation
import Testing
@testable import EventStore

/// True when this machine lets the tests bind-mount a directory read-only (root with
/// CAP_SYS_ADMIN, as on the CI machine; not inside an unprivileged container).
func canBindMountReadOnly() -> Bool {
    let dir = TemporaryDirectory()
    let source = dir.path + "/src", target = dir.path + "/ro"
    try? FileManager.default.createDirectory(atPath: source, withIntermediateDirectories: true)
    try? FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: true)
    guard (try? run("/bin/mount", ["--bind", source, target]))?.status == 0 else { return false }
    defer { _ = try? run("/bin/umount", [target]) }
    return (try? run("/bin/mount", ["-o", "remount,bind,ro", target]))?.status == 0
}

@Suite("Resource limits: reader slots and read-only stores", .serialized)
struct ResourceLimitTests {
    @Test("exhausted reader slots are a typed error naming the limit, and the store keeps working")
    func tooManyReaders() throws {
        let dir = TemporaryDirectory()
        // No background indexing: the writer thread's own short reads would race for the slots.
        let store = try makeStore(dir) {
            $0.maxReaders = 2
            $0.indexesInBackground = false
        }
        defer { store.close() }
        _ = try store.appendBlocking([event()])
        // Two read transactions held at once take both slots; a third has none.
        var thrown: StoreError?
        try store.env.read { _ in
            try store.env.read { _ in
                do { _ = try store.event(at: 1) } catch { thrown = error as? StoreError }
            }
        }
        guard case .tooManyReaders(let maximum)? = thrown else {
            Issue.record("expected tooManyReaders, got \(String(describing: thrown))")
            return
        }
        #expect(maximum == 2)
        #expect(thrown?.description.contains("all 2 reader slots are in use") == true)
        // Slots are released with their transactions.
        _ = try store.appendBlocking([event()])
        #expect(try store.verify().ok)
        #expect(try store.read().collect().count == 2)
    }

    @Test("a store on a read-only file system is refused with a typed error and left intact",
          .enabled(if: canBindMountReadOnly(), "needs a read-only bind mount"))
    func readOnly() throws {
        let dir = TemporaryDirectory()
        let store = try makeStore(dir)
        _ = try store.appendBlocking([event(), event()])
        store.close()
        let mountPoint = dir.path + "/readonly"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        #expect(try run("/bin/mount", ["--bind", dir.store(), mountPoint]).status == 0)
        defer { _ = try? run("/bin/umount", [mountPoint]) }
        #expect(try run("/bin/mount", ["-o", "remount,bind,ro", mountPoint]).status == 0)

        #expect(throws: StoreError.readOnly(path: mountPoint)) { try EventStore.open(at: mountPoint) }
        let cli = try recoveryctl(["query", "--store", mountPoint])
        #expect(cli.status == 2 && cli.stderr.contains("read-only"), "\(cli.stderr)")
        // Nothing changed underneath.
        let reopened = try makeStore(dir)
        defer { reopened.close() }
        #expect(try reopened.head().seq == 2)
        #expect(try reopened.verify().ok)
    }
}
