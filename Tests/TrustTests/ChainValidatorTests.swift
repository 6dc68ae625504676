import Projections
import TestKit
import EventStore
import Foundation
import Testing
import Trust

@Suite("Chain validation at an injected time")
struct ChainValidatorTests {
    @Test("valid, expired, not yet valid, exactly at notAfter, untrusted root, unknown trust domain, leaf CA, bad key usage, no SPIFFE ID")
    func verdicts() throws {
        let pki = TestPKI()
        try pki.root("root")
        try pki.root("other-root")
        try pki.issue("intermediate", by: "root", days: 3650, extensions: TestPKI.intermediate)
        try pki.issue("leaf", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org/workload"))
        try pki.issue("stranger", by: "other-root", extensions: TestPKI.leaf("spiffe://example.org/workload"))
        try pki.issue("elsewhere", by: "intermediate", extensions: TestPKI.leaf("spiffe://other.org/workload"))
        try pki.issue("leaf-ca", by: "intermediate", extensions: ["basicConstraints=critical,CA:true", "keyUsage=critical,digitalSignature,keyCertSign", "subjectAltName=URI:spiffe://example.org/ca"])
        try pki.issue("no-signature", by: "intermediate", extensions: ["basicConstraints=critical,CA:false", "keyUsage=critical,keyEncipherment", "subjectAltName=URI:spiffe://example.org/w"])
        try pki.issue("no-id", by: "intermediate", extensions: TestPKI.leaf(nil))
        try pki.issue("root-path", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org"))
        try pki.issue("two-ids", by: "intermediate", extensions: ["basicConstraints=critical,CA:false", "keyUsage=critical,digitalSignature", "subjectAltName=URI:spiffe://example.org/a,URI:spiffe://example.org/b"])
        try pki.issue("not-spiffe", by: "intermediate", extensions: TestPKI.leaf("https://example.org/a"))

        let validator = ChainValidator(bundles: ["example.org": [try pki.certificate("root")]])
        let intermediate = try pki.certificate("intermediate")
        let leaf = try pki.certificate("leaf")
        let notBefore = try #require(leaf.notBefore), notAfter = try #require(leaf.notAfter)
        func at(_ seconds: Int64) -> Timestamp { Timestamp(seconds: seconds) }
        func reasons(_ name: String, at time: Timestamp) throws -> [VerdictReason] {
            validator.validate(leaf: try pki.certificate(name), intermediates: [intermediate], at: time).reasons
        }
        let valid = validator.validate(leaf: leaf, intermediates: [intermediate], at: at(notBefore + 3_600))
        #expect(valid.trusted && valid.id?.description == "spiffe://example.org/workload")
        #expect(validator.validate(leaf: leaf, intermediates: [intermediate], at: at(notAfter + 1)).reasons == [.expired])
        #expect(validator.validate(leaf: leaf, intermediates: [intermediate], at: at(notBefore - 86_400)).reasons.contains(.notYetValid))
        // RFC 5280: valid at exactly notAfter (OpenSSL alone says expired).
        #expect(validator.validate(leaf: leaf, intermediates: [intermediate], at: at(notAfter)).trusted)
        #expect(validator.validate(leaf: leaf, intermediates: [], at: at(notBefore + 3_600)).reasons == [.untrustedChain])
        let now = at(notBefore + 3_600)
        #expect(try reasons("stranger", at: now) == [.untrustedChain])
        #expect(try reasons("elsewhere", at: now) == [.unknownTrustDomain])
        #expect(try reasons("leaf-ca", at: now) == [.leafIsCA])
        #expect(try reasons("no-signature", at: now) == [.badKeyUsage])
        #expect(try reasons("no-id", at: now).first == .invalidSPIFFEID)
        #expect(try reasons("root-path", at: now) == [.invalidSPIFFEID])
        #expect(try reasons("two-ids", at: now).first == .invalidSPIFFEID)
        #expect(try reasons("not-spiffe", at: now).first == .invalidSPIFFEID)
        // The generic profile checks the chain alone.
        var generic = validator
        generic.spiffeRules = false
        #expect(generic.validate(leaf: try pki.certificate("leaf-ca"), intermediates: [intermediate], at: now).trusted)
    }
}

@Suite("Verdicts in the log")
struct VerdictTests {
    @Test("every validation is a cert.verdict event; the certificates projection keeps the latest per SPIFFE ID and serial, and expiries")
    func recorded() throws {
        let pki = TestPKI()
        try pki.root("root")
        try pki.issue("intermediate", by: "root", days: 3650, extensions: TestPKI.intermediate)
        try pki.issue("leaf", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org/workload"))
        let leaf = try pki.certificate("leaf"), intermediate = try pki.certificate("intermediate")
        let notBefore = try #require(leaf.notBefore), notAfter = try #require(leaf.notAfter)
        let directory = TemporaryDirectory()
        var options = StoreOptions()
        options.vocabularies = [TrustVocabulary()]
        options.clock = ManualClock(Timestamp(seconds: notBefore + 60))
        let store = try EventStore.open(at: directory.store(), options: options)
        defer { store.close() }
        let recorder = TrustRecorder(store: store, validator: ChainValidator(bundles: ["example.org": [try pki.certificate("root")]]))
        let trusted = try recorder.verify(leaf: leaf, chain: [intermediate])
        #expect(trusted.trusted && trusted.spiffeID == "spiffe://example.org/workload" && trusted.signatureAlgorithms == ["ecdsa-with-SHA256", "ecdsa-with-SHA256"])
        let rejected = try recorder.verify(leaf: leaf, chain: [intermediate], at: Timestamp(seconds: notAfter + 1))
        #expect(rejected.reasons == ["expired"] && rejected.checks["chain"] == "failed")
        let events = try store.query(EventQuery(type: TrustEvent.verdict)).collect()
        #expect(events.count == 2 && events[0].stream == "cert/spiffe://example.org/workload")
        let state = try Replay(store: store, projection: CertificatesProjection()).state(at: 2).value
        #expect(state.bySPIFFEID["spiffe://example.org/workload"]?.verdict.trusted == false)
        #expect(state.bySerial[leaf.serial]?.seq == 2 && state.expiries[trusted.sha256] == notAfter)
        let before = try Replay(store: store, projection: CertificatesProjection()).state(at: 1).value
        #expect(before.bySPIFFEID["spiffe://example.org/workload"]?.verdict.trusted == true)
    }

    @Test("the certificates projection passes the determinism check")
    func determinism() throws {
        let report = try DeterminismCheck.run(CertificatesProjection(), seed: 15, events: 800) { rng, n in
            let reasons: [EventValue] = rng.next() % 3 == 0 ? [] : [rng.next() % 2 == 0 ? "revoked_crl" : "expired"]
            let payload: EventValue = [
                "spiffe_id": .string("spiffe://example.org/w\(rng.next() % 9)"), "serial": .string(String(rng.next() % 30, radix: 16)),
                "sha256": .string(String(repeating: "a", count: 63) + String(rng.next() % 10)), "not_before": "2026-01-01T00:00:00Z", "not_after": .string(Timestamp(seconds: 1_790_000_000 + Int64(rng.next() % 1_000)).rfc3339),
                "verdict": reasons.isEmpty ? "trusted" : "rejected", "reasons": .array(reasons), "checks": ["chain": "ok"],
                "signature_algorithms": ["ecdsa-with-SHA256"],
            ]
            return NewEvent(type: TrustEvent.verdict, stream: "cert/\(n % 5)", data: payload)
        }
        #expect(report.disagreements.isEmpty)
    }
}
