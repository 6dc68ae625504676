import Foundation
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
    /// Where the lines go: standard output, or a file (`--output`).
    var sink = OutputSink()
    /// The last event printed: the head of a JSONL export, which a signature covers.
    private(set) var last: Event?

    init(format: OutputFormat, dataKeys: [String] = [], sink: OutputSink = OutputSink()) {
        self.format = format
        self.dataKeys = dataKeys
        self.sink = sink
    }

    static let csvColumns = ["seq", "id", "time", "hlc_wall", "hlc_logical", "node", "stream", "version", "type",
                             "tags", "causation", "correlation", "prev", "hash"]

    mutating func begin() {
        switch format {
        case .table: Swift.print(pad("SEQ", 7) + " " + pad("TIME", 30) + " " + pad("NODE", 10) + " " + pad("TYPE", 22) + " " + pad("STREAM", 26) + " DATA", to: &sink)
        case .json: Swift.print("[", terminator: "", to: &sink)
        case .csv: Swift.print((EventPrinter.csvColumns + dataKeys.map { "data.\($0)" }).map(csvField).joined(separator: ","), to: &sink)
        case .jsonl: break
        }
    }

    mutating func print(_ e: Event) {
        defer {
            count += 1
            last = e
        }
        switch format {
        case .jsonl: Swift.print(Envelope.json(e), to: &sink)
        case .json: Swift.print((count == 0 ? "\n" : ",\n") + Envelope.json(e), terminator: "", to: &sink)
        case .table:
            var data = JSONWriter.encode(e.data)
            if data.count > 60 { data = String(data.prefix(57)) + "..." }
            Swift.print(pad(String(e.seq), 7) + " " + pad(e.time.rfc3339, 30) + " " + pad(e.node, 10) + " "
                        + pad(e.type, 22) + " " + pad(e.stream, 26) + " " + data, to: &sink)
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
            Swift.print(fields.map(csvField).joined(separator: ","), to: &sink)
        }
    }

    mutating func end() {
        if format == .json { Swift.print(count == 0 ? "]" : "\n]", to: &sink) }
        sink.flush()
    }

    /// Writes out what is buffered (a follower shows each event as it comes).
    mutating func flush() { sink.flush() }
}

func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// Standard output, or a file: what `EventPrinter` writes to, buffered.
struct OutputSink: TextOutputStream {
    private let handle: FileHandle
    private var buffer: [UInt8] = []

    init(handle: FileHandle = .standardOutput) { self.handle = handle }

    /// A new (or emptied) file at `path`.
    init(creating path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw CLIFailure(code: 1, message: "cannot write \(path)")
        }
        self.init(handle: handle)
    }

    mutating func write(_ string: String) {
        buffer.append(contentsOf: string.utf8)
        if buffer.count >= 1 << 16 { flush() }
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
