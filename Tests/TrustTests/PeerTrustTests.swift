import EventStore
import Foundation
import Healing
import Projections
import TestKit
import Testing
import Trust

/// How an agent wires Trust to Healing: node NAME is `spiffe://example.org/node/NAME`, and its
/// standing is the latest recorded verdict. (Healing sees only the `PeerTrust` protocol.)
struct MeshPeerTrust: PeerTrust {
    let standings: CertificateStandings

    func standing(of node: String, at time: Timestamp) -> PeerStanding {
        guard let latest = try? standings.latest("spiffe://example.org/node/\(node)", at: time) else { return PeerStanding(.unknown) }
        return PeerStanding(latest.verdict.trusted ? .trusted : .untrusted, reasons: latest.verdict.reasons,
                            evidenceID: latest.eventID, evidenceSeq: latest.seq)
    }
}

@Suite("Healing asks Trust")
struct PeerTrustTests {
    @Test("a revoked peer is quarantined with the verdict as the cause; traffic to it and its release are refused; trust lapses at expiry")
    func revokedPeer() async throws {
        let pki = TestPKI()
        try pki.standardChain(leafID: "spiffe://example.org/node/node-3")
        try pki.issue("node-7", by: "intermediate", extensions: TestPKI.leaf("spiffe://example.org/node/node-7"))
        try pki.crl("current", by: "intermediate", revoking: ["node-7"])
        let intermediate = try pki.certificate("intermediate"), node3 = try pki.certificate("leaf")
        let directory = TemporaryDirectory()
        var options = StoreOptions()
        options.vocabularies = [TrustVocabulary(), HealingVocabulary()]
        let clock = ManualClock(Timestamp(seconds: try #require(node3.notBefore) + 60))
        options.clock = clock
        let store = try EventStore.open(at: directory.store(), options: options)
        defer { store.close() }

        var validator = ChainValidator(bundles: ["example.org": [try pki.certificate("root")]])
        validator.crls = [try RevocationList(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: pki.path("current.crl.pem")))))]
        let recorder = TrustRecorder(store: store, validator: validator)
        let revoked = try recorder.verify(leaf: try pki.certificate("node-7"), chain: [intermediate])
        #expect(revoked.reasons == ["revoked_crl"])
        #expect(try recorder.verify(leaf: node3, chain: [intermediate]).trusted)
        let verdictEvent = try #require(try store.query(EventQuery(type: TrustEvent.verdict)).collect().first)

        var config = HealingConfig(seed: 1, regions: ["eu-west"])
        config.peerTrust = MeshPeerTrust(standings: try CertificateStandings(store: store))
        let engine = try await HealingEngine.open(store: store, config: config, actuator: DryRunActuator(), sleeper: ManualSleeper(clock: clock),
                                                  declaring: Topology(routes: ["api": "node-3"]))
        let quarantined = try await engine.quarantineUntrusted(["node-3", "node-7", "node-9"])
        #expect(quarantined.map(\.action) == [.quarantine(node: "node-7", reason: "untrusted_certificate")])
        let planned = try #require(try store.query(EventQuery(type: HealingEvent.actionPlanned)).collect().last)
        #expect(planned.causation == verdictEvent.id)
        #expect(planned.data["reason"]?.stringValue == "untrusted_certificate: revoked_crl")

        // Releasing node-7 or sending traffic to it is refused; to node-3 (trusted) or node-9
        // (no verdict known) it goes ahead.
        let release = try await engine.run(.release(node: "node-7"), reason: "operator")
        #expect(release == .rejected(reason: "peer_untrusted"))
        let toRevoked = try await engine.run(.switchRoute(destination: "api", from: "node-3", to: "node-7"), reason: "operator")
        #expect(toRevoked == .rejected(reason: "peer_untrusted"))
        let rejected = try #require(try store.query(EventQuery(type: HealingEvent.actionRejected)).collect().last)
        #expect(rejected.data["certificate_reasons"] == .array(["revoked_crl"]))
        if case .succeeded = try await engine.run(.switchRoute(destination: "api", from: "node-3", to: "node-9"), reason: "operator") {} else {
            Issue.record("a peer with no verdict is not refused")
        }

        // node-3's trusted verdict does not outlive its certificate.
        let standings = try CertificateStandings(store: store)
        let later = Timestamp(seconds: try #require(node3.notAfter) + 1)
        #expect(try standings.latest("spiffe://example.org/node/node-3", at: later)?.verdict.reasons == ["expired"])
        #expect(try standings.latest("spiffe://example.org/node/node-3", at: clock.now())?.verdict.trusted == true)
    }
}
