import EventStore
import Foundation

/// `appenders` OS threads, each appending `perAppender` single events with `appendBlocking`
/// (appender `a` takes events `a * perAppender ...`, wrapping around); returns the seconds.
/// One real thread per appender: `concurrentPerform` would run only as many as there are cores.
public func appendFromThreads(_ store: EventStore, _ events: [NewEvent], appenders: Int, perAppender: Int) -> Double {
    seconds {
        let done = DispatchGroup()
        for a in 0..<appenders {
            done.enter()
            Thread {
                for n in 0..<perAppender { _ = try? store.appendBlocking([events[(a * perAppender + n) % events.count]]) }
                done.leave()
            }.start()
        }
        done.wait()
    }
}

/// The same appenders as Swift tasks calling the async `append`: the writer resumes
/// continuations instead of waking blocked threads.
public func appendFromTasks(_ store: EventStore, _ events: [NewEvent], appenders: Int, perAppender: Int) async throws -> Double {
    try await asyncSeconds {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for a in 0..<appenders {
                group.addTask {
                    for n in 0..<perAppender { _ = try await store.append([events[(a * perAppender + n) % events.count]]) }
                }
            }
            try await group.waitForAll()
        }
    }
}
