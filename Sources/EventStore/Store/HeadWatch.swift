/// Wakes in-process followers when the head advances.
final class HeadWatch: @unchecked Sendable {
    // @unchecked: all state is guarded by `lock`.
    private let lock = Mutex()
    private var head: UInt64 = 0
    private var finished = false
    private var waiters: [(after: UInt64, continuation: CheckedContinuation<UInt64?, Never>)] = []

    func publish(_ newHead: UInt64) {
        let (due, current) = lock.withLock { () -> ([CheckedContinuation<UInt64?, Never>], UInt64) in
            head = max(head, newHead)
            let due = waiters.filter { $0.after < head }.map(\.continuation)
            waiters.removeAll { $0.after < head }
            return (due, head)
        }
        for continuation in due { continuation.resume(returning: current) }
    }

    func finish() {
        let all = lock.withLock { () -> [CheckedContinuation<UInt64?, Never>] in
            finished = true
            defer { waiters = [] }
            return waiters.map(\.continuation)
        }
        for continuation in all { continuation.resume(returning: nil) }
    }

    /// Returns the head once it is beyond `position`, or nil when the store closes.
    func wait(after position: UInt64) async -> UInt64? {
        await withCheckedContinuation { continuation in
            let immediate: UInt64?? = lock.withLock {
                if finished { return .some(nil) }
                if head > position { return .some(head) }
                waiters.append((position, continuation))
                return .none
            }
            if let immediate { continuation.resume(returning: immediate) }
        }
    }
}
