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
        try pki.standardChain()
        try pki.root("other-root")
        try pki.issue("stranger", by: "other-root", extensions: TestPKI.leaf("spiffe://example.org/workload"))
        try pki.issue("elsewhere", by: "intermediate", extensions: TestPKI.leaf("spiffe://other.org/workload"))
        try pki.issue("leaf-ca", by: "intermediate", extensions: ["basicConstraints=critical,CA:true", "keyUsage=critical,digitalSignature,keyCertSign", "subjectAltName=URI:spiffe://example.org/ca"])
        try pki.issue("no-signature", by: "intermediate", extensions: ["basicConstraints=critical,CA:false", "keyUsage=critical,keyEncipherment", "subjectAltName=URI:spiffe://example.org/w"])
        try pki.issue("no-id", by: "intermediate", extensions: TestPKI.leaf(nil))
        try pki.issue("root-path", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org"))
        try pki.issue("two-ids", by: "intermediate", extensions: ["basicConstraints=critical,CA:false", "keyUsage=critical,digitalSignature", "subjectAltName=URI:spiffe://example.org/a,URI:spiffe://example.org/b"])
        try pki.issue("not-spiffe", by: "intermediate", extensions: TestPKI.leaf("https://example.org/a"))
        try pki.issue("key-cert-sign", by: "intermediate", extensions: ["basicConstraints=critical,CA:false", "keyUsage=critical,digitalSignature,keyCertSign",
                                                                         "subjectAltName=URI:spiffe://example.org/signer"])

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
        #expect(try reasons("key-cert-sign", at: now) == [.badKeyUsage])
        #expect(try reasons("no-id", at: now) == [.invalidSPIFFEID])
        #expect(try reasons("root-path", at: now) == [.invalidSPIFFEID])
        #expect(try reasons("two-ids", at: now) == [.invalidSPIFFEID])
        #expect(try reasons("not-spiffe", at: now) == [.invalidSPIFFEID])
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
        try pki.standardChain()
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

@Suite("CRLs")
struct CRLTests {
    @Test("revoked in a CRL, a fresh CRL that does not list it, an expired CRL, a CRL without a CRL number, a CRL from another issuer, the whole chain")
    func revocation() throws {
        let pki = TestPKI()
        try pki.standardChain()
        try pki.root("other-root")
        try pki.issue("revoked", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org/gone"))
        func list(_ path: String) throws -> RevocationList { try RevocationList(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: path)))) }
        let revoking = try list(try pki.crl("current", by: "intermediate", revoking: ["revoked"]))
        let unnumbered = try list(try pki.crl("unnumbered", by: "intermediate", revoking: [], number: false))
        let short = try list(try pki.crl("short", by: "intermediate", revoking: [], hours: 1))
        let foreign = try list(try pki.crl("foreign", by: "other-root", revoking: []))
        let rootCRL = try list(try pki.crl("root-crl", by: "root", revoking: ["intermediate"]))
        let intermediate = try pki.certificate("intermediate"), leaf = try pki.certificate("leaf")
        let now = Timestamp(seconds: try #require(leaf.notBefore) + 600)
        func validate(_ name: String, _ crls: [RevocationList], wholeChain: Bool = false, at time: Timestamp = now) throws -> ChainResult {
            var validator = ChainValidator(bundles: ["example.org": [try pki.certificate("root")]])
            validator.crls = crls
            validator.crlWholeChain = wholeChain
            return validator.validate(leaf: try pki.certificate(name), intermediates: [intermediate], at: time)
        }
        #expect(try validate("revoked", [revoking]).reasons == [.revokedCRL])
        let clean = try validate("leaf", [revoking])
        #expect(clean.trusted && clean.crlChecked)
        #expect(try validate("leaf", [unnumbered]).reasons == [.crlInvalid])
        #expect(try validate("leaf", [short], at: Timestamp(seconds: now.nanoseconds / 1_000_000_000 + 7_200)).reasons == [.crlStale])
        let unrelated = try validate("leaf", [foreign])
        #expect(unrelated.trusted && !unrelated.crlChecked)
        // The intermediate revoked by the root: found only when the whole chain is checked.
        #expect(try validate("leaf", [revoking, rootCRL]).trusted)
        #expect(try validate("leaf", [revoking, rootCRL], wholeChain: true).reasons == [.revokedCRL])
        // DER reads as well as PEM; garbage is a typed error.
        let der = try RevocationList(bytes: try PEM.blocks(Array(try Data(contentsOf: URL(fileURLWithPath: pki.path("current.crl.pem")))))[0].der)
        #expect(try validate("revoked", [der]).reasons == [.revokedCRL])
        #expect(throws: CertificateError.self) { try RevocationList(bytes: Array("not a crl".utf8)) }
    }
}

@Suite("Pinning")
struct PinningTests {
    @Test("SPKI pins per SPIFFE ID or trust domain: a match, a mismatch, a set without a backup pin, an expired set; pins agree with openssl's pin-sha256 recipe")
    func pins() throws {
        let pki = TestPKI()
        try pki.standardChain()
        let leaf = try pki.certificate("leaf"), intermediate = try pki.certificate("intermediate")
        // RFC 7469's recipe, run by the openssl command.
        try pki.run(["x509", "-in", "leaf.pem", "-pubkey", "-noout", "-out", "leaf.pub"])
        try pki.run(["pkey", "-pubin", "-in", "leaf.pub", "-outform", "der", "-out", "leaf.spki"])
        try pki.run(["dgst", "-sha256", "-binary", "-out", "leaf.spki.sha256", "leaf.spki"])
        let expected = try Data(contentsOf: URL(fileURLWithPath: pki.path("leaf.spki.sha256"))).base64EncodedString()
        #expect(leaf.spkiPin == expected)
        let backup = Data(repeating: 7, count: 32).base64EncodedString()
        let now = Timestamp(seconds: try #require(leaf.notBefore) + 600)
        func reasons(_ pins: [String: PinSet]) throws -> ChainResult {
            var validator = ChainValidator(bundles: ["example.org": [try pki.certificate("root")]])
            validator.pins = pins
            return validator.validate(leaf: leaf, intermediates: [intermediate], at: now)
        }
        let pinned = try reasons(["spiffe://example.org/workload": PinSet(pins: [leaf.spkiPin, backup])])
        #expect(pinned.trusted && pinned.pinChecked)
        #expect(try reasons(["example.org": PinSet(pins: [intermediate.spkiPin, backup])]).trusted)
        #expect(try reasons(["example.org": PinSet(pins: [backup, Data(repeating: 9, count: 32).base64EncodedString()])]).reasons == [.pinMismatch])
        #expect(try reasons(["example.org": PinSet(pins: [leaf.spkiPin])]).reasons == [.pinWithoutBackup])
        // The ID's own set wins over the trust domain's.
        #expect(try reasons(["example.org": PinSet(pins: [backup]), "spiffe://example.org/workload": PinSet(pins: [leaf.spkiPin, backup])]).trusted)
        let expired = try reasons(["example.org": PinSet(pins: [backup], expires: Timestamp(seconds: 1))])
        #expect(expired.trusted && !expired.pinChecked)
    }
}

@Suite("Bundles at run time")
struct BundleTests {
    @Test("replacing a trust domain's bundle is recorded and takes effect for the next validation")
    func replace() throws {
        let pki = TestPKI()
        try pki.root("old-root")
        try pki.root("new-root")
        try pki.issue("leaf", by: "new-root", extensions: TestPKI.leaf("spiffe://example.org/workload"))
        let leaf = try pki.certificate("leaf")
        let directory = TemporaryDirectory()
        var options = StoreOptions()
        options.vocabularies = [TrustVocabulary()]
        options.clock = ManualClock(Timestamp(seconds: try #require(leaf.notBefore) + 60))
        let store = try EventStore.open(at: directory.store(), options: options)
        defer { store.close() }
        let recorder = TrustRecorder(store: store, validator: ChainValidator(bundles: ["example.org": [try pki.certificate("old-root")]]))
        #expect(try recorder.verify(leaf: leaf).reasons == ["untrusted_chain"])
        try recorder.replaceBundle("example.org", with: [try pki.certificate("new-root")])
        #expect(try recorder.verify(leaf: leaf).trusted)
        let update = try #require(try store.query(EventQuery(type: TrustEvent.bundleUpdated)).collect().first)
        #expect(update.data["trust_domain"] == "example.org" && update.data["certificates"] == 1)
        #expect(update.data["sha256"] == .string(try Digest.sha256(try pki.certificate("new-root").der).hex))
    }
}

@Suite("OCSP responses")
struct OCSPTests {
    @Test("good, revoked, unknown, stale, a delegated responder, a signer without OCSPSigning, a response for another certificate, garbage")
    func responses() throws {
        let pki = TestPKI()
        try pki.standardChain()
        try pki.issue("other", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org/other"))
        try pki.issue("responder", by: "intermediate", extensions: ["basicConstraints=critical,CA:false", "keyUsage=critical,digitalSignature", "extendedKeyUsage=OCSPSigning"])
        try pki.issue("impostor", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org/impostor"))
        func response(_ name: String, signer: String = "intermediate", status: String, for subject: String = "leaf") throws -> OCSPResponse {
            try OCSPResponse(der: Array(try Data(contentsOf: URL(fileURLWithPath: try pki.ocsp(name, for: subject, issuer: "intermediate", signer: signer, status: status)))))
        }
        let leaf = try pki.certificate("leaf"), intermediate = try pki.certificate("intermediate")
        // The responses are made right after the leaf, so a minute after its notBefore is "now".
        let now = Timestamp(seconds: try #require(leaf.notBefore) + 60)
        func validate(_ responses: [OCSPResponse], at time: Timestamp = now) throws -> ChainResult {
            var validator = ChainValidator(bundles: ["example.org": [try pki.certificate("root")]])
            validator.ocspResponses = responses
            return validator.validate(leaf: leaf, intermediates: [intermediate], at: time)
        }
        let good = try validate([try response("good", status: "good")])
        #expect(good.trusted && good.ocspStatus == .good)
        let revoked = try validate([try response("revoked", status: "revoked")])
        #expect(revoked.reasons == [.revokedOCSP] && revoked.ocspStatus == .revoked)
        #expect(try validate([try response("unknown", status: "unknown")]).reasons == [.ocspUnknown])
        // Two days later the one-day response is stale.
        #expect(try validate([try response("stale", status: "good")], at: now.adding(nanoseconds: 2 * 86_400 * 1_000_000_000)).reasons == [.ocspStale])
        #expect(try validate([try response("delegated", signer: "responder", status: "good")]).trusted)
        #expect(try validate([try response("impostor", signer: "impostor", status: "good")]).reasons == [.ocspInvalid])
        #expect(try validate([try response("another", status: "good", for: "other")]).reasons == [.ocspInvalid])
        #expect(throws: CertificateError.self) { try OCSPResponse(der: Array("not ocsp".utf8)) }
        let verdict = try CertificateVerdict(leaf: leaf, chain: [intermediate], result: revoked)
        #expect(verdict.checks["ocsp"] == "revoked" && verdict.reasons == ["revoked_ocsp"])
    }
}
