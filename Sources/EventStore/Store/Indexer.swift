#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// The thread of this process that keeps the secondary indexes current behind the writer.
///
/// It prepares each batch (decoding and grouping, the expensive half) in a read transaction on
/// its own core while the writer goes on appending; only the insert of the prepared runs takes
/// the write lock. A burst of appends is indexed once its tail reaches `burstMinimum` events, so
/// index batches stay large (a batch rewrites about one page per distinct key it touches, so
/// small batches cost more per event); a shorter tail is indexed once appends have paused for
/// `lullNanoseconds`.
final class Indexer: @unchecked Sendable {
    // @unchecked: every mutable field is guarded by `condition`.
    private let env: Environment
    private let batchSize: Int
    private let burstMinimum: Int
    private let lullNanoseconds: UInt64 = 50_000_000
    private let condition = Condition()
    private var knownHead: UInt64 = 0
    private var lastHeadChange: UInt64 = 0
    private var checkpoint: UInt64 = 0
    /// Set when a batch failed (a corrupt record, an I/O error); cleared by the next new head,
    /// so a failure neither spins the thread nor blocks the writer forever.
    private var failed = false
    private var stopping = false
    private var stopped = false
    private var batches = 0
    private var eventsIndexed = 0

    init(env: Environment, batchSize: Int, maximumLag: Int) {
        self.env = env
        self.batchSize = max(1, batchSize)
        // Whole batches during a burst (measured: 65,536-event batches append 15% faster than
        // 16,384-event ones at 1M events), but well below the lag at which the writer waits.
        self.burstMinimum = max(1, min(batchSize, maximumLag / 2))
        let thread = Thread { [self] in run() }
        thread.name = "recovery-engine-indexer"
        thread.start()
    }

    /// Called by the writer after each commit.
    func noteHead(_ head: UInt64) {
        condition.locked {
            guard head > knownHead else { return }
            let wasIdle = knownHead <= checkpoint || failed
            knownHead = head
            lastHeadChange = Indexer.uptimeNanoseconds()
            failed = false
            // Wake the thread only when this changes what it waits for: work after none, or a
            // full batch. While it waits out a lull it wakes by itself, so a stream of small
            // commits does not cost a context switch each.
            if wasIdle || Int(knownHead - checkpoint) >= burstMinimum { condition.broadcast() }
        }
    }

    /// Blocks while more than `maximum` events wait to be indexed, so a writer that outruns
    /// the indexer cannot leave queries a long tail to scan. Returns at once after a failure.
    func waitForLag(atMost maximum: Int) {
        condition.locked {
            while !failed && !stopped && knownHead > checkpoint && Int(knownHead - checkpoint) > maximum {
                condition.wait()
            }
        }
    }

    /// Indexes what is left, then ends the thread; returns when it has ended.
    func stop() {
        condition.locked {
            stopping = true
            condition.broadcast()
            while !stopped { condition.wait() }
        }
    }

    var counts: (batches: Int, events: Int) { condition.locked { (batches, eventsIndexed) } }

    private func run() {
        if let start = try? env.read({ txn in (try Head.load(txn).seq, try IndexBuilder.checkpoint(txn)) }) {
            condition.locked {
                knownHead = max(knownHead, start.0)
                checkpoint = start.1
            }
        }
        while waitForWork() {
            do {
                let step = try IndexBuilder.step(env: env, limit: batchSize)
                condition.locked {
                    if step.indexed > 0 { batches += 1; eventsIndexed += step.indexed }
                    checkpoint = step.checkpoint
                    // The writer could not commit while this batch held the write lock: that
                    // silence is not a lull. Counted as one, it had the tail that built up
                    // meanwhile indexed at once, in small batches that cost nearly as much
                    // write-lock time as a full one (measured: 30-80 ms for 2-10K events
                    // against 100-280 ms for 65,536).
                    lastHeadChange = max(lastHeadChange, Indexer.uptimeNanoseconds())
                    condition.broadcast()
                }
            } catch {
                condition.locked {
                    failed = true
                    condition.broadcast()
                }
            }
        }
        condition.locked {
            stopped = true
            condition.broadcast()
        }
    }

    /// Waits until there is a batch worth building; false when the thread should end.
    private func waitForWork() -> Bool {
        condition.locked {
            while true {
                let lag = knownHead > checkpoint ? Int(knownHead - checkpoint) : 0
                if stopping { return lag > 0 && !failed }
                if failed || lag == 0 {
                    condition.wait()
                    continue
                }
                if lag >= burstMinimum { return true }
                let quiet = Indexer.uptimeNanoseconds() - lastHeadChange
                if quiet >= lullNanoseconds { return true }
                condition.wait(timeoutNanoseconds: Int64(lullNanoseconds - quiet))
            }
        }
    }

    private static func uptimeNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
