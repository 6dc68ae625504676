import EventStore
import Foundation
import Healing
import RecoveryEngine
import TestKit
import Testing
import Trust

@Suite("The embedding API")
struct EmbeddingTests {
    @Test("one open wires the domains: a quarantine lands in the replicated set, a peer with a revoked certificate cannot be released, metrics render, close leaves nothing open")
    func wired() async throws {
        let pki = TestPKI()
        try pki.standardChain(leafID: "spiffe://mesh.local/node/node-3")
        try pki.issue("node-7", by: "intermediate", extensions: TestPKI.leaf("spiffe://mesh.local/node/node-7"))
        try pki.crl("current", by: "intermediate", revoking: ["node-7"])
        func certificate(_ name: String) throws -> Certificate {
            try #require(try PEM.certificates(Array(try Data(contentsOf: URL(fileURLWithPath: pki.path("\(name).pem"))))).first)
        }
        let leaf = try certificate("node-7"), intermediate = try certificate("intermediate")
        let dir = TemporaryDirectory()
        let clock = ManualClock(Timestamp(seconds: try #require(leaf.notBefore) + 60))
        var configuration = EngineConfiguration()
        configuration.store.clock = clock
        configuration.store.nodeID = "node-1"
        var validator = ChainValidator(bundles: ["mesh.local": [try certificate("root")]])
        validator.crls = [try RevocationList(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: pki.path("current.crl.pem")))))]
        configuration.trust = validator
        let engine = try await RecoveryEngine.open(at: dir.store(), configuration: configuration, actuator: DryRunActuator(),
                                                   sleeper: ManualSleeper(clock: clock))

        // Healing's quarantine goes to the replicated set; its release takes it out again.
        _ = try await engine.healing.run(.quarantine(node: "node-3", reason: "drill"), reason: "test")
        #expect(try engine.replicatedQuarantine() == ["node-3"])
        _ = try await engine.healing.run(.release(node: "node-3"), reason: "test")
        #expect(try engine.replicatedQuarantine() == [])

        // Trust's verdict reaches Healing: node-7 is revoked, so it is quarantined with the
        // verdict as the cause, and cannot be released.
        let verdict = try #require(engine.trust).verify(leaf: leaf, chain: [intermediate])
        #expect(verdict.reasons == ["revoked_crl"])
        let quarantined = try await engine.healing.quarantineUntrusted(["node-3", "node-7"])
        #expect(quarantined.map(\.action) == [.quarantine(node: "node-7", reason: "untrusted_certificate")])
        #expect(try engine.replicatedQuarantine() == ["node-7"])
        #expect(try await engine.healing.run(.release(node: "node-7"), reason: "operator") == .rejected(reason: "peer_untrusted"))

        let text = try engine.metricsText()
        #expect(text.contains(#"recovery_cert_verdicts_total{node_id="node-1",verdict="rejected",reason="revoked_crl"} 1"#))
        #expect(text.contains(#"recovery_quarantined_nodes{node_id="node-1"} 1"#))
        #expect(engine.isCaughtUp())
        engine.close()
        // Closed: the writer has stopped, so nothing more is appended.
        #expect(throws: StoreError.self) { try engine.store.appendBlocking([NewEvent(type: "x.y", stream: "s", data: [:])]) }
    }
}
