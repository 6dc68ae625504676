import ArgumentParser
import EventStore
import Foundation

struct Import: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Import events from a JSONL file (the envelope of EVENTS.md) as one atomic batch.",
        discussion: """
        The whole file is written in one transaction, or nothing is: any bad line stops the import \
        with its line number. Events whose id the store holds are skipped, so importing a file twice \
        adds nothing the second time. At most \(JSONLReader.maximumFileBytes >> 20) MiB per file and \
        \(JSONLReader.maximumLineBytes >> 20) MiB per line; split larger files.
        """)

    @OptionGroup var global: GlobalArguments
    @Argument(help: "A JSONL file, or - for standard input.") var file: String

    func run() throws {
        let source = file == "-" ? "standard input" : file
        let parsed = try JSONLReader.read(file == "-" ? FileHandle.standardInput : open(file), name: source)
        if parsed.events.isEmpty {
            print("nothing to import: \(source) holds no events")
            return
        }
        let store = try global.openForWriting()
        defer { store.close() }
        let result: AppendResult
        do {
            result = try store.appendBlocking(parsed.events)
        } catch {
            throw parsed.relocate(error)
        }
        let skipped = result.positions.count - result.written
        let range = result.positions.min().flatMap { low in result.positions.max().map { "; seq \(low)..\($0)" } } ?? ""
        print("imported \(result.written) events from \(source)" + (skipped > 0 ? " (\(skipped) already present)" : "") + range)
    }

    private func open(_ path: String) throws -> FileHandle {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CLIFailure.usage("cannot read \(path): no such file or not readable")
        }
        return handle
    }
}

/// Reads an import file line by line, with limits, naming the line of any fault.
struct JSONLReader {
    static let maximumFileBytes = 256 << 20
    static let maximumLineBytes = 1 << 20

    var events: [NewEvent] = []
    var lineNumbers: [Int] = []

    static func read(_ handle: FileHandle, name: String) throws -> JSONLReader {
        var data = Data()
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw CLIFailure.usage("cannot read \(name): \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            data.append(chunk)
            if data.count > maximumFileBytes {
                throw CLIFailure.usage("\(name) is larger than \(maximumFileBytes >> 20) MiB: split it into several imports (each is atomic)")
            }
        }
        var reader = JSONLReader()
        let bytes = [UInt8](data)
        var lineStart = 0
        var lineNumber = 0
        while lineStart < bytes.count {
            lineNumber += 1
            let end = bytes[lineStart...].firstIndex(of: 0x0a) ?? bytes.count
            try reader.parse(line: bytes[lineStart..<end], number: lineNumber, name: name)
            lineStart = end + 1
        }
        return reader
    }

    private mutating func parse(line: ArraySlice<UInt8>, number: Int, name: String) throws {
        guard line.count <= JSONLReader.maximumLineBytes else {
            throw CLIFailure.usage("\(name) line \(number): \(line.count) bytes, longer than the \(JSONLReader.maximumLineBytes >> 20) MiB limit")
        }
        if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0d }) { return }
        guard String(validating: line, as: UTF8.self) != nil else {
            throw CLIFailure.usage("\(name) line \(number): invalid UTF-8")
        }
        do {
            let value = try JSONParser.parse(Array(line))
            events.append(try Envelope.newEvent(from: value))
            lineNumbers.append(number)
        } catch let error as JSONError {
            throw CLIFailure.usage("\(name) line \(number): \(error.description)")
        } catch let error as EnvelopeError {
            throw CLIFailure.usage("\(name) line \(number): \(error.description)")
        }
    }

    /// Names the input line of an error the store reports by event index.
    func relocate(_ error: StoreError) -> CLIFailure {
        switch error {
        case .invalidEvent(let index, let field, let message) where lineNumbers.indices.contains(index):
            return .usage("line \(lineNumbers[index]): field \(field): \(message)")
        case .clockAhead(let index, let remote, let local, let bound) where lineNumbers.indices.contains(index):
            return .usage("line \(lineNumbers[index]): field hlc: \(remote) µs is \(remote - local) µs ahead of the local clock (bound \(bound) µs)")
        default:
            return CLIFailure(error)
        }
    }
}
