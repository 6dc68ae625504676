import EventStore
import Foundation
import Projections
import TestKit
import Testing
import Trust

/// OCSP fetched over HTTP from a real `openssl ocsp` responder on 127.0.0.1.
@Suite("OCSP fetching")
struct OCSPFetchTests {
    /// A PKI whose leaves name the responder in their AIA: good, revoked and unknown to it,
    /// and a good one that names no responder.
    final class Fixture: @unchecked Sendable {
        let pki = TestPKI()
        let responder: OCSPResponderProcess
        let root: Certificate, intermediate: Certificate
        /// A minute after the leaves were made: the responder's answers are fresh then.
        let now: Timestamp

        init() throws {
            try pki.standardChain()
            let entries = [(1001, "good"), (1002, "revoked"), (1004, "plain")]
            let index = entries.map { TestPKI.indexLine(serial: TestPKI.serialHex($0.0), subject: $0.1, status: $0.1 == "revoked" ? "revoked" : "good") }
            FileManager.default.createFile(atPath: pki.path("responder.index"), contents: Data(index.joined().utf8))
            responder = try OCSPResponderProcess(pki: pki, index: "responder.index", issuer: "intermediate", signer: "intermediate")
            let aia = "authorityInfoAccess=OCSP;URI:\(responder.url)"
            try pki.issue("good", by: "intermediate", serial: 1001, extensions: TestPKI.leaf("spiffe://example.org/good") + [aia])
            try pki.issue("revoked", by: "intermediate", serial: 1002, extensions: TestPKI.leaf("spiffe://example.org/revoked") + [aia])
            try pki.issue("unknown", by: "intermediate", serial: 1003, extensions: TestPKI.leaf("spiffe://example.org/unknown") + [aia])
            try pki.issue("plain", by: "intermediate", serial: 1004, extensions: TestPKI.leaf("spiffe://example.org/plain"))
            root = try pki.certificate("root")
            intermediate = try pki.certificate("intermediate")
            now = Timestamp(seconds: try #require(try pki.certificate("good").notBefore) + 60)
        }

        var validator: ChainValidator { ChainValidator(bundles: ["example.org": [root]]) }

        func check(_ name: String, with fetcher: OCSPFetcher, at time: Timestamp? = nil) async throws -> (ChainResult, OCSPFetch) {
            let leaf = try pki.certificate(name)
            let fetched = await fetcher.fetch(for: leaf, issuer: intermediate, at: time ?? now)
            return (validator.validate(leaf: leaf, intermediates: [intermediate], at: time ?? now, fetched: fetched), fetched)
        }
    }

    @Test("good, revoked and unknown from the AIA responder, with the nonce echoed; a configured URL; no responder at all")
    func statuses() async throws {
        let fixture = try Fixture()
        defer { fixture.responder.stop() }
        let fetcher = OCSPFetcher(timeoutSeconds: 5)
        let (good, goodFetch) = try await fixture.check("good", with: fetcher)
        #expect(good.trusted && good.ocspStatus == .good)
        #expect(goodFetch.nonce == "echoed" && !goodFetch.fromCache && goodFetch.url == fixture.responder.url)
        let (revoked, _) = try await fixture.check("revoked", with: fetcher)
        #expect(revoked.reasons == [.revokedOCSP] && revoked.ocspStatus == .revoked)
        let (unknown, _) = try await fixture.check("unknown", with: fetcher)
        #expect(unknown.reasons == [.ocspUnknown])

        let (nowhere, _) = try await fixture.check("plain", with: fetcher)
        #expect(nowhere.reasons == [.ocspUnreachable])
        let configured = OCSPFetcher(responderURL: URL(string: fixture.responder.url), timeoutSeconds: 5)
        let (plain, plainFetch) = try await fixture.check("plain", with: configured)
        #expect(plain.trusted && plainFetch.nonce == "echoed")
    }

    @Test("a response is kept until its nextUpdate, then fetched again")
    func cache() async throws {
        let fixture = try Fixture()
        let fetcher = OCSPFetcher(timeoutSeconds: 5)
        _ = try await fixture.check("good", with: fetcher)
        #expect(fetcher.cachedCount == 1)
        fixture.responder.stop()
        let (again, cached) = try await fixture.check("good", with: fetcher)
        #expect(again.trusted && cached.fromCache && cached.nonce.isEmpty)
        // The responder's answers last a day; two days on, the cache is stale and the responder gone.
        let (later, refetched) = try await fixture.check("good", with: fetcher, at: fixture.now.adding(nanoseconds: 2 * 86_400 * 1_000_000_000))
        #expect(!refetched.fromCache && later.reasons.contains(.ocspUnreachable))
    }

    @Test("a responder that is down: soft-fail trusts and records it, hard-fail rejects; a silent one times out")
    func unreachable() async throws {
        let fixture = try Fixture()
        fixture.responder.stop()
        let (hard, _) = try await fixture.check("good", with: OCSPFetcher(timeoutSeconds: 2))
        #expect(hard.reasons == [.ocspUnreachable] && hard.ocspUnreachable)
        let (soft, _) = try await fixture.check("good", with: OCSPFetcher(timeoutSeconds: 2, softFail: true))
        #expect(soft.trusted && soft.ocspUnreachable)
        let verdict = try CertificateVerdict(leaf: try fixture.pki.certificate("good"), chain: [fixture.intermediate], result: soft)
        #expect(verdict.checks["ocsp"] == "unreachable" && verdict.ocspFetch?["policy"] == "soft_fail")
        #expect(verdict.ocspFetch?["error"]?.isEmpty == false)

        let silent = try SilentListener()
        defer { silent.close() }
        let started = ContinuousClock.now
        let slow = OCSPFetcher(responderURL: URL(string: "http://127.0.0.1:\(silent.port)/"), timeoutSeconds: 1)
        let (timedOut, _) = try await fixture.check("good", with: slow)
        #expect(timedOut.reasons == [.ocspUnreachable])
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test("the recorder fetches, records how in the verdict, and the projection sees it")
    func recorded() async throws {
        let fixture = try Fixture()
        defer { fixture.responder.stop() }
        let directory = TemporaryDirectory()
        var options = StoreOptions()
        options.vocabularies = [TrustVocabulary()]
        let store = try EventStore.open(at: directory.store(), options: options)
        defer { store.close() }
        let recorder = TrustRecorder(store: store, validator: fixture.validator)
        let fetcher = OCSPFetcher(timeoutSeconds: 5)
        let verdict = try await recorder.verify(leaf: try fixture.pki.certificate("revoked"), chain: [fixture.intermediate], at: fixture.now, fetching: fetcher)
        #expect(!verdict.trusted && verdict.reasons == ["revoked_ocsp"] && verdict.checks["ocsp"] == "revoked")
        #expect(verdict.ocspFetch?["nonce"] == "echoed" && verdict.ocspFetch?["source"] == "network")
        let stored = try CertificateVerdict(payload: try #require(try store.event(at: store.head().seq)).data)
        #expect(stored == verdict)
        let state = try Replay(store: store, projection: CertificatesProjection()).state(at: store.head().seq)
        #expect(state.value.revokedSerials[verdict.serial] != nil)
    }
}
