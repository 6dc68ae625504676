import EventStore
import Projections

/// The runbooks of one store: publishing versions (`runbook.published` with the document and
/// its SHA-256) and choosing the one in force (`runbook.activated`). A running engine plans with
/// the active versions from its next cycle.
public final class RunbookLibrary: @unchecked Sendable {
    // @unchecked: the runner has its own lock; the rest is immutable.
    public let store: EventStore
    private let runner: ProjectionRunner<RunbooksProjection>

    public init(store: EventStore) throws(HealingError) {
        self.store = store
        do { runner = try ProjectionRunner(store: store, projection: RunbooksProjection(), snapshotInterval: 0) } catch { throw HealingError.wrap(error) }
    }

    /// Every runbook in the log, as it stands now.
    public func runbooks() throws(HealingError) -> [String: VersionedDocument] {
        do { try runner.catchUp() } catch { throw HealingError.wrap(error) }
        return runner.state.value.runbooks
    }

    /// Every runbook as the log stood after event `seq`.
    public func runbooks(at seq: UInt64) throws(HealingError) -> [String: VersionedDocument] {
        do { return try Replay(store: store, projection: RunbooksProjection()).state(at: seq).value.runbooks } catch { throw HealingError.wrap(error) }
    }

    /// Publishes `runbook` as the next version under its name (the same document again is the
    /// same version, nothing recorded).
    @discardableResult
    public func publish(_ runbook: RunbookDocument) throws(HealingError) -> (version: Int, isNew: Bool) {
        let current = try runbooks()[runbook.name]
        do { return try RunbooksProjection.documents.publish(runbook.source, named: runbook.name, current: current, in: store) } catch {
            throw .storeFailure(error)
        }
    }

    /// Makes `version` of `name` the one in force; an older version is the runbook's rollback.
    public func activate(_ name: String, version: Int) throws(HealingError) {
        guard let runbook = try runbooks()[name] else { throw .invalidRunbook("no runbook named \(name) is published") }
        guard runbook.document(version) != nil else { throw .invalidRunbook("runbook \(name) has no version \(version)") }
        do { try RunbooksProjection.documents.activate(name, version: version, in: store) } catch { throw .storeFailure(error) }
    }
}
