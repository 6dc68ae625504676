import EventStore
import Foundation
import Testing
import Trust

@Suite("X509-SVID shape")
struct X509SVIDTests {
    /// go-spiffe's messages (the corpus's `error_contains`) and the errors they correspond to.
    static let expected: [(String, SVIDError)] = [
        ("certificate validation failed: no certificates found", .noCertificates),
        ("private key validation failed: no private key found", .noPrivateKey),
        ("cannot parse PEM encoded private key: no PEM blocks found", .unreadablePrivateKey(.noPEMBlocks)),
        ("cannot parse PEM encoded certificate: no PEM blocks found", .unreadableCertificates(.noPEMBlocks)),
        ("cannot parse PEM encoded private key: asn1: structure error", .unreadablePrivateKey(.malformedPrivateKey)),
        ("cannot parse PEM encoded certificate: x509: malformed certificate", .unreadableCertificates(.malformedCertificate)),
        ("leaf certificate does not match private key", .keyMismatch),
        ("certificate contains no URI SAN", .noURISAN),
        ("leaf certificate must not have CA flag set to true", .leafIsCA),
        ("leaf certificate must have 'digitalSignature' set as key usage", .leafWithoutDigitalSignature),
        ("leaf certificate must not have 'keyCertSign' set as key usage", .leafWithKeyCertSign),
        ("leaf certificate must not have 'cRLSign' set as key usage", .leafWithCRLSign),
        ("signing certificate must have CA flag set to true", .signingNotCA),
        ("signing certificate must have 'keyCertSign' set as key usage", .signingWithoutKeyCertSign),
    ]

    @Test("every case of the spiffe-x509svid corpus gives the same SPIFFE ID or the same error",
          .enabled(if: Corpora.available, "needs ../shared/corpora or RECOVERY_CORPORA"))
    func corpus() throws {
        let base = try #require(Corpora.directory).appendingPathComponent("spiffe-x509svid")
        let data = try Data(contentsOf: base.appendingPathComponent("cases.json"))
        guard case .array(let cases)? = try JSONParser.parse(Array(data))["cases"] else { Issue.record("no cases"); return }
        var disagreements: [String] = []
        for item in cases.compactMap(\.mapValue) {
            let name = item["name"]?.stringValue ?? "?"
            let certificates = try Array(Data(contentsOf: base.appendingPathComponent(item["certs_file"]?.stringValue ?? "")))
            let key = try Array(Data(contentsOf: base.appendingPathComponent(item["key_file"]?.stringValue ?? "")))
            do {
                let svid = try X509SVID.parse(certificates: certificates, key: key)
                if item["valid"] != true { disagreements.append("\(name): accepted") }
                if let id = item["spiffe_id"]?.stringValue, svid.id.description != id { disagreements.append("\(name): \(svid.id) not \(id)") }
                if let count = item["num_certs"]?.intValue, svid.chain.count != Int(count) { disagreements.append("\(name): \(svid.chain.count) certificates") }
            } catch {
                let message = item["error_contains"]?.stringValue ?? "valid"
                let want = Self.expected.first { message.contains($0.0) }?.1
                if want != error { disagreements.append("\(name): \(error), expected \(message)") }
            }
        }
        #expect(cases.count == 18)
        #expect(disagreements.isEmpty, "\(disagreements)")
    }

    @Test("garbage is a typed error, never a crash: not PEM, bad base64, truncated DER, more than 1 MiB")
    func garbage() throws {
        #expect(throws: CertificateError.noPEMBlocks) { try PEM.certificates(Array("not a certificate".utf8)) }
        #expect(throws: CertificateError.noPEMBlocks) { try PEM.certificates(Array("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n".utf8)) }
        #expect(throws: CertificateError.malformedCertificate) { try Certificate(der: [0x30, 0x82, 0x01]) }
        #expect(throws: CertificateError.tooLarge(bytes: 10 << 20)) { try PEM.certificates([UInt8](repeating: 0x41, count: 10 << 20)) }
    }
}
