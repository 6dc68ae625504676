import Foundation
import FuzzChecks
import Testing

/// Every committed fuzz input, the seeds and each finding a fuzz run made, goes through its
/// target's checks in every `make test`: a fixed finding stays fixed.
@Suite("Fuzz corpora and findings")
struct FuzzCorpusTests {
    static let fuzzDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    static func inputs(_ check: FuzzCheck) -> [(String, [UInt8])] {
        var out: [(String, [UInt8])] = check.seeds().enumerated().map { ("seed \($0.offset)", $0.element) }
        for folder in ["Corpus", "Regressions"] {
            let directory = fuzzDirectory.appendingPathComponent(folder).appendingPathComponent(check.name)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
            for name in names.sorted() {
                if let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) {
                    out.append(("\(folder)/\(check.name)/\(name)", [UInt8](data)))
                }
            }
        }
        return out
    }

    @Test("each target's seeds, corpus and findings keep its properties", arguments: FuzzCheck.all.map(\.name))
    func corpus(name: String) throws {
        let check = try #require(FuzzCheck.named(name))
        let inputs = Self.inputs(check)
        #expect(inputs.count >= 3, "every target has seeds")
        for (label, bytes) in inputs {
            do { try check.check(bytes) } catch { Issue.record("\(label): \(error.description)") }
        }
    }

    @Test("the committed seed corpus is what the targets' seeds are")
    func seedsCommitted() {
        for check in FuzzCheck.all {
            let directory = Self.fuzzDirectory.appendingPathComponent("Corpus").appendingPathComponent(check.name)
            for (index, seed) in check.seeds().enumerated() {
                let data = FileManager.default.contents(atPath: directory.appendingPathComponent("seed-\(index)").path)
                let same = data.map { [UInt8]($0) } == seed
                #expect(same, "Fuzz/Corpus/\(check.name)/seed-\(index) differs from the target's seed: run 'make fuzz-seeds'")
            }
        }
    }
}
