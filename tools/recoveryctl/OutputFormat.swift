import ArgumentParser
import EventStore

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, jsonl, csv
}

/// Writes events in one of the output formats, streaming: nothing is held but the current row.
struct EventPrinter {
    let format: OutputFormat
    /// For CSV: the payload keys that get a `data.KEY` column.
    var dataKeys: [String] = []
    private var count = 0

    init(format: OutputFormat, dataKeys: [String] = []) {
        self.format = format
        self.dataKeys = dataKeys
    }

    static let csvColumns = ["seq", "id", "time", "hlc_wall", "hlc_logical", "node", "stream", "version", "type",
                             "tags", "causation", "correlation", "prev", "hash"]

    mutating func begin() {
        switch format {
        case .table: Swift.print(pad("SEQ", 7) + " " + pad("TIME", 30) + " " + pad("NODE", 10) + " " + pad("TYPE", 22) + " " + pad("STREAM", 26) + " DATA")
        case .json: Swift.print("[", terminator: "")
        case .csv: Swift.print((EventPrinter.csvColumns + dataKeys.map { "data.\($0)" }).map(csvField).joined(separator: ","))
        case .jsonl: break
        }
    }

    mutating func print(_ e: Event) {
        defer { count += 1 }
        switch format {
        case .jsonl: Swift.print(Envelope.json(e))
        case .json: Swift.print((count == 0 ? "\n" : ",\n") + Envelope.json(e), terminator: "")
        case .table:
            var data = JSONWriter.encode(e.data)
            if data.count > 60 { data = String(data.prefix(57)) + "..." }
            Swift.print(pad(String(e.seq), 7) + " " + pad(e.time.rfc3339, 30) + " " + pad(e.node, 10) + " "
                        + pad(e.type, 22) + " " + pad(e.stream, 26) + " " + data)
        case .csv:
            var fields = [String(e.seq), e.id, e.time.rfc3339, String(e.hlc.wall), String(e.hlc.logical), e.node, e.stream,
                          String(e.version), e.type, JSONWriter.encode(.map(e.tags.mapValues { .string($0) })),
                          e.causation ?? "", e.correlation ?? "", e.prev.hex, e.hash.hex]
            for key in dataKeys {
                switch e.data[key] {
                case nil: fields.append("")
                case .some(.string(let s)): fields.append(s)
                case .some(let value): fields.append(JSONWriter.encode(value))
                }
            }
            Swift.print(fields.map(csvField).joined(separator: ","))
        }
    }

    mutating func end() {
        if format == .json { Swift.print(count == 0 ? "]" : "\n]") }
    }

    /// RFC 4180 quoting.
    private func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}
