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
