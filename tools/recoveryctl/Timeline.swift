import EventStore
import Healing

/// A short human-readable timeline of what the engine did. Consecutive lines that say the same
/// thing about different subjects (twelve services crossing one threshold, ten scale actions
/// succeeding) are folded into one line that names them.
enum Timeline {
    struct Line {
        var time: String
        var correlation: String
        /// Lines with equal keys in a row are folded together.
        var key: String
        var subject: String
    }

    static func print(store: EventStore) throws {
        var actions: [String: (kind: String, target: String)] = [:]
        var lines: [Line] = []
        _ = try storeCall {
            try store.scan { e in
                if e.type == HealingEvent.actionPlanned, let id = e.data["action"]?.stringValue {
                    actions[id] = (e.data["kind"]?.stringValue ?? "?", e.data["target"]?.stringValue ?? "?")
                }
                if let line = describe(e, actions: actions) { lines.append(line) }
                return true
            }
        }
        var index = 0
        while index < lines.count {
            var end = index + 1
            while end < lines.count, lines[end].key == lines[index].key, lines[end].correlation == lines[index].correlation { end += 1 }
            let subjects = lines[index..<end].map(\.subject).filter { !$0.isEmpty }
            var text = lines[index].key
            if !subjects.isEmpty {
                let shown = subjects.count > 4 ? subjects.prefix(3).joined(separator: ", ") + ", … \(subjects.last ?? "") (\(subjects.count))"
                                               : subjects.joined(separator: ", ")
                text += " " + shown
            } else if end - index > 1 {
                text += " (×\(end - index))"
            }
            Swift.print("\(lines[index].time)  \(pad(lines[index].correlation, 11)) \(text)")
            index = end
        }
    }

    static func describe(_ e: Event, actions: [String: (kind: String, target: String)]) -> Line? {
        let d = e.data
        func text(_ key: String) -> String { d[key]?.stringValue ?? "" }
        func count(_ key: String) -> Int { if case .array(let items)? = d[key] { return items.count } else { return 0 } }
        let id = text("action")
        let action = actions[id]
        let subject = (d["service"]?.stringValue ?? d["node"]?.stringValue) ?? ""
        let key: String
        var about = subject
        switch e.type {
        case HealingEvent.symptomDetected: key = "symptom   \(text("symptom")) on"
        case HealingEvent.symptomCleared: key = "cleared   \(text("symptom")) on"
        case HealingEvent.actionSucceeded:
            let attempt = d["attempt"]?.intValue ?? 1
            key = "succeeded \(action?.kind ?? "?")" + (attempt > 1 ? " (attempt \(attempt))" : "")
            about = "\(action?.target ?? "?") [\(id)]"
        case HealingEvent.actionFailed:
            let retry = d["retry_in_ms"]?.intValue.map { ", retry in \($0) ms" } ?? ""
            key = "failed    \(action?.kind ?? "?") \(action?.target ?? "?"): \(text("error"))\(retry)"
            about = "[\(id)]"
        case HealingEvent.actionRejected:
            key = "rejected  \(action?.kind ?? "?") (\(text("reason")))"
            about = "\(action?.target ?? "?") [\(id)]"
        case HealingEvent.breakerTransitioned:
            key = "breaker   \(text("breaker")) \(text("from")) -> \(text("to")) (\(text("reason")))"
            about = ""
        case HealingEvent.rateLimitThrottled:
            key = "throttled \(text("limiter")) at \(d["in_window"]?.intValue ?? 0)/\(d["limit"]?.intValue ?? 0) per \(d["window_s"]?.intValue ?? 0)s"
            about = ""
        case HealingEvent.rollbackStarted:
            key = "rollback  to seq \(d["to_seq"]?.intValue ?? 0): \(count("actions")) compensations"
            about = ""
        case HealingEvent.rollbackCompleted:
            key = "rollback  completed: \(count("restored")) restored, \(count("not_restored")) not restored"
            about = ""
        default: return nil
        }
        return Line(time: String(e.time.description.dropFirst(11).prefix(12)), correlation: e.correlation ?? "", key: key, subject: about)
    }
}
