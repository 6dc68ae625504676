import Foundation
import TestKit
import Testing

@Suite("verify --export: exported slices checked offline")
struct ExportVerifyTests {
    @Test("an untouched export verifies with no store; an edited field, a removed, reordered, inserted or forged line is named; filtered exports need --allow-gaps")
    func tampering() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        let export = try recoveryctl(["query", "--store", store, "--format", "jsonl"]).stdout
        let lines = export.split(separator: "\n").map(String.init)
        #expect(lines.count > 100)
        func verify(_ lines: [String], _ extra: [String] = []) throws -> (status: Int32, stdout: String) {
            let path = dir.path + "/slice.jsonl"
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
            let result = try recoveryctl(["verify", "--export", path] + extra)
            return (result.status, result.stdout)
        }
        let clean = try verify(lines)
        #expect(clean.status == 0 && clean.stdout.contains("verify: ok") && clean.stdout.contains("lines checked: \(lines.count)"))
        // A middle slice verifies too (its first prev points outside it).
        #expect(try verify(Array(lines[20..<60])).status == 0)

        var edited = lines
        edited[40] = edited[40].replacingOccurrences(of: "\"node\":\"agent-1\"", with: "\"node\":\"agent-2\"")
        #expect(edited[40] != lines[40])
        let editedResult = try verify(edited)
        #expect(editedResult.status == 1 && editedResult.stdout.contains("problem: line 41: seq 41: the hash does not match"))

        var removed = lines
        removed.remove(at: 30)
        #expect(try verify(removed).stdout.contains("problem: line 31: seq 32 follows seq 30: 1 line(s) missing"))

        var reordered = lines
        reordered.swapAt(10, 11)
        #expect(try verify(reordered).stdout.contains("problem: line 12: seq 11 after seq 12: lines out of order"))

        var duplicated = lines
        duplicated.insert(lines[50], at: 51)
        #expect(try verify(duplicated).stdout.contains("problem: line 52: seq 51 after seq 51: lines out of order"))

        // A line whose prev was rewritten to hide a gap is caught by its own hash and by the chain.
        var rechained = lines
        let prevStart = try #require(lines[70].range(of: "\"prev\":\""))
        let prevEnd = lines[70].index(prevStart.upperBound, offsetBy: 64)
        rechained[70] = lines[70].replacingCharacters(in: prevStart.upperBound..<prevEnd, with: String(repeating: "0", count: 64))
        let rechainedResult = try verify(rechained)
        #expect(rechainedResult.stdout.contains("problem: line 71: seq 71: the hash does not match"))
        #expect(rechainedResult.stdout.contains("problem: line 71: seq 71: prev is not the hash of the line before"))

        var garbage = lines
        garbage[5] = "{not json"
        #expect(try verify(garbage).stdout.contains("problem: line 6: not an exported event"))

        // A filtered export has gaps: refused as missing lines unless --allow-gaps.
        let filtered = try recoveryctl(["query", "--store", store, "--format", "jsonl", "--type", "mapek.cycle"]).stdout.split(separator: "\n").map(String.init)
        #expect(try verify(filtered).status == 1)
        #expect(try verify(filtered, ["--allow-gaps"]).status == 0)

        // The head must be an anchor recorded elsewhere: a cut-off tail is found that way.
        let head = try #require(clean.stdout.split(separator: "\n").first { $0.hasPrefix("seq 1 .. ") }?.split(separator: " ").last.map(String.init))
        #expect(try verify(lines, ["--anchor", head]).status == 0)
        #expect(try verify(Array(lines.dropLast()), ["--anchor", head]).status == 1)
        #expect(try recoveryctl(["verify", "--export", dir.path + "/missing.jsonl"]).status == 2)
    }

    @Test("--sign makes a detached Ed25519 signature over the export and its head; verify --pubkey accepts it with the key's public half and refuses another key, an edited export, a missing signature")
    func signatures() throws {
        let dir = TemporaryDirectory()
        let store = dir.path + "/store"
        #expect(try recoveryctl(["demo", "--store", store]).status == 0)
        for name in ["one", "two"] {
            #expect(try run("/usr/bin/openssl", ["genpkey", "-algorithm", "ed25519", "-out", dir.path + "/\(name).pem"]).status == 0)
            #expect(try run("/usr/bin/openssl", ["pkey", "-in", dir.path + "/\(name).pem", "-pubout", "-out", dir.path + "/\(name).pub"]).status == 0)
        }
        #expect(try run("/usr/bin/openssl", ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", dir.path + "/ec.pem"]).status == 0)
        let export = dir.path + "/slice.jsonl"
        let signed = try recoveryctl(["query", "--store", store, "--format", "jsonl", "--to-seq", "150", "--output", export, "--sign", dir.path + "/one.pem"])
        #expect(signed.status == 0 && signed.stdout.isEmpty)
        let signature = try String(contentsOfFile: export + ".sig", encoding: .utf8)
        #expect(signature.contains("\"algorithm\":\"ed25519\"") && signature.contains("\"head\":\"150:"))

        let good = try recoveryctl(["verify", "--export", export, "--pubkey", dir.path + "/one.pub"])
        #expect(good.status == 0 && good.stdout.contains("verify: ok"))
        let other = try recoveryctl(["verify", "--export", export, "--pubkey", dir.path + "/two.pub"])
        #expect(other.status == 1 && other.stdout.contains("the signature does not verify with"))
        // Dropping the last line keeps the chain intact but no longer matches what was signed.
        let lines = try String(contentsOfFile: export, encoding: .utf8).split(separator: "\n")
        try (lines.dropLast().joined(separator: "\n") + "\n").write(toFile: export, atomically: true, encoding: .utf8)
        let cut = try recoveryctl(["verify", "--export", export, "--pubkey", dir.path + "/one.pub"])
        #expect(cut.status == 1 && cut.stdout.contains("the signature covers other bytes") && cut.stdout.contains("the signature names head 150:"))
        try FileManager.default.removeItem(atPath: export + ".sig")
        #expect(try recoveryctl(["verify", "--export", export, "--pubkey", dir.path + "/one.pub"]).status == 1)
        // Keys that cannot serve: a private key as the public one, a P-256 key to sign with.
        #expect(try recoveryctl(["verify", "--export", export, "--pubkey", dir.path + "/one.pem"]).status == 2)
        #expect(try recoveryctl(["query", "--store", store, "--format", "jsonl", "--output", export, "--sign", dir.path + "/ec.pem"]).status == 2)
        #expect(try recoveryctl(["query", "--store", store, "--format", "csv", "--output", export, "--sign", dir.path + "/one.pem"]).status == 2)
    }
}
