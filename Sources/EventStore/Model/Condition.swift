#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A mutex with a condition variable, for the writer thread's queue.
final class Condition: @unchecked Sendable {
    // @unchecked: the pthread mutex guards everything the callers touch inside `locked`.
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let cond: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
        cond = .allocate(capacity: 1)
        cond.initialize(to: pthread_cond_t())
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        #if canImport(Glibc)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        #endif
        pthread_cond_init(cond, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(cond)
        pthread_mutex_destroy(mutex)
        cond.deallocate()
        mutex.deallocate()
    }

    func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Waits while holding the lock (call inside `locked`). Returns false on timeout.
    @discardableResult
    func wait(timeoutNanoseconds: Int64? = nil) -> Bool {
        guard let timeoutNanoseconds else {
            pthread_cond_wait(cond, mutex)
            return true
        }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let total = Int64(now.tv_nsec) + timeoutNanoseconds
        var deadline = timespec()
        deadline.tv_sec = now.tv_sec + Int(total / 1_000_000_000)
        deadline.tv_nsec = Int(total % 1_000_000_000)
        return pthread_cond_timedwait(cond, mutex, &deadline) == 0
    }

    func broadcast() { pthread_cond_broadcast(cond) }
}

/// A counting semaphore for blocking callers.
final class Semaphore: @unchecked Sendable {
    // @unchecked: `count` is guarded by `condition`.
    private let condition = Condition()
    private var count = 0

    func signal() {
        condition.locked {
            count += 1
            condition.broadcast()
        }
    }

    func wait() {
        condition.locked {
            while count == 0 { condition.wait() }
            count -= 1
        }
    }
}

/// Hands a result from the writer thread to a blocked caller; the semaphore orders the accesses.
final class ResultBox: @unchecked Sendable {
    var result: Result<AppendResult, StoreError>?
}
