#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small pthread mutex. `Synchronization.Mutex` needs newer Apple platforms than this package
/// targets, and Foundation's `NSLock` is heavier than we want on the append path.
public final class Mutex: @unchecked Sendable {
    // @unchecked: the pthread mutex is the synchronisation.
    private let handle: UnsafeMutablePointer<pthread_mutex_t>

    public init() {
        handle = .allocate(capacity: 1)
        handle.initialize(to: pthread_mutex_t())
        pthread_mutex_init(handle, nil)
    }

    deinit {
        pthread_mutex_destroy(handle)
        handle.deallocate()
    }

    public func withLock<T, E: Error>(_ body: () throws(E) -> T) throws(E) -> T {
        pthread_mutex_lock(handle)
        defer { pthread_mutex_unlock(handle) }
        return try body()
    }
}

/// A readers-writer lock. Every LMDB transaction in this process holds it shared; growing the
/// map holds it exclusively, because `mdb_env_set_mapsize` requires that no transaction of this
/// process is active.
final class ReadWriteLock: @unchecked Sendable {
    // @unchecked: the pthread rwlock is the synchronisation.
    private let handle: UnsafeMutablePointer<pthread_rwlock_t>

    init() {
        handle = .allocate(capacity: 1)
        handle.initialize(to: pthread_rwlock_t())
        pthread_rwlock_init(handle, nil)
    }

    deinit {
        pthread_rwlock_destroy(handle)
        handle.deallocate()
    }

    func withShared<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(handle)
        defer { pthread_rwlock_unlock(handle) }
        return try body()
    }

    func withExclusive<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(handle)
        defer { pthread_rwlock_unlock(handle) }
        return try body()
    }
}
