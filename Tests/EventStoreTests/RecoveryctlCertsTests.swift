import EventStore
import Foundation
import Testing

@Suite("recoveryctl certs")
struct RecoveryctlCertsTests {
    @Test("certs verify records each verdict (exit 0 trusted, 1 rejected, 2 unreadable and nothing recorded); certs status shows them, now and at a past seq")
    func verifyAndStatus() throws {
        let pki = TestPKI()
        try pki.standardChain(leafID: "spiffe://example.org/api")
        let store = pki.path("store")
        let common = ["--store", store, "--chain", pki.path("intermediate.pem"), "--bundle", "example.org=" + pki.path("root.pem")]
        let trusted = try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--format", "json"] + common)
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(trusted.stdout.contains("\"verdict\":\"trusted\""))
        let expired = try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--at", "2099-01-01T00:00:00Z"] + common)
        #expect(expired.status == 1 && expired.stdout.contains("reasons: expired"))
        let garbage = pki.path("garbage.pem")
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: garbage))
        #expect(try recoveryctl(["certs", "verify", garbage] + common).status == 2)
        #expect(try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--store", store]).status == 2)
        // Unreadable inputs: bad base64 in a PEM, a truncated DER certificate, a 10 MB PEM.
        let leafPEM = try String(contentsOfFile: pki.path("leaf.pem"), encoding: .utf8)
        let badBase64 = leafPEM.replacingOccurrences(of: "\n", with: "\n!!!!", options: [], range: leafPEM.range(of: "CERTIFICATE-----\n"))
        try pki.run(["x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der"])
        let der = try Data(contentsOf: URL(fileURLWithPath: pki.path("leaf.der")))
        let truncated = "-----BEGIN CERTIFICATE-----\n" + der.prefix(100).base64EncodedString() + "\n-----END CERTIFICATE-----\n"
        let huge = leafPEM + String(repeating: "A", count: 10 << 20)
        for (name, text) in [("bad-base64.pem", badBase64), ("truncated.pem", truncated), ("huge.pem", huge)] {
            try Data(text.utf8).write(to: URL(fileURLWithPath: pki.path(name)))
            let result = try recoveryctl(["certs", "verify", pki.path(name)] + common)
            #expect(result.status == 2, "\(name): \(result.status) \(result.stderr)")
        }
        let status = try recoveryctl(["certs", "status", "--store", store])
        #expect(status.stdout.contains("spiffe://example.org/api") && status.stdout.contains("rejected"))
        #expect(status.stdout.contains("1 certificates seen"))
        let past = try recoveryctl(["certs", "status", "--store", store, "--at-seq", "1"])
        #expect(past.stdout.contains("trusted") && !past.stdout.contains("rejected"))
        #expect(try recoveryctl(["query", "--type", "cert.verdict", "--store", store]).stdout.split(separator: "\n").count >= 2)
        // A CRL that revokes the leaf: rejected with revoked_crl; an unreadable CRL is exit 2.
        try pki.crl("current", by: "intermediate", revoking: ["leaf"])
        let revoked = try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--crl", pki.path("current.crl.pem"), "--format", "json"] + common)
        #expect(revoked.status == 1 && revoked.stdout.contains("revoked_crl") && revoked.stdout.contains("\"crl\":\"failed\""))
        #expect(try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--crl", garbage] + common).status == 2)
        // A pin set that misses the chain: pin_mismatch; a malformed pin is exit 2.
        let pins = ["--pin", "example.org=" + Data(repeating: 1, count: 32).base64EncodedString(), "--pin", "example.org=" + Data(repeating: 2, count: 32).base64EncodedString()]
        let mismatch = try recoveryctl(["certs", "verify", pki.path("leaf.pem")] + pins + common)
        #expect(mismatch.status == 1 && mismatch.stdout.contains("pin_mismatch"))
        #expect(try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--pin", "example.org=short"] + common).status == 2)
        // A stapled OCSP response saying revoked; garbage in its place is exit 2.
        let response = try pki.ocsp("stapled", for: "leaf", issuer: "intermediate", signer: "intermediate", status: "revoked")
        let ocsp = try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--ocsp-response", response, "--format", "json"] + common)
        #expect(ocsp.status == 1 && ocsp.stdout.contains("revoked_ocsp") && ocsp.stdout.contains("\"ocsp\":\"revoked\""))
        #expect(try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--ocsp-response", garbage] + common).status == 2)
    }

    @Test("certs verify --ocsp-fetch asks a real openssl ocsp responder: revoked by the AIA responder, unknown to the --ocsp-url one, bad values exit 2, a responder down with and without --ocsp-soft-fail")
    func ocspFetch() throws {
        let pki = TestPKI()
        try pki.standardChain(leafID: "spiffe://example.org/api")
        let revokedSerial = 4242
        let index = TestPKI.indexLine(serial: TestPKI.serialHex(revokedSerial), subject: "revoked", status: "revoked")
        FileManager.default.createFile(atPath: pki.path("responder.index"), contents: Data(index.utf8))
        let responder = try OCSPResponderProcess(pki: pki, index: "responder.index", issuer: "intermediate", signer: "intermediate")
        defer { responder.stop() }
        try pki.issue("revoked", by: "intermediate", serial: revokedSerial,
                      extensions: TestPKI.leaf("spiffe://example.org/revoked") + ["authorityInfoAccess=OCSP;URI:\(responder.url)"])
        let store = pki.path("store")
        let common = ["--store", store, "--chain", pki.path("intermediate.pem"), "--bundle", "example.org=" + pki.path("root.pem"), "--ocsp-fetch"]

        let revoked = try recoveryctl(["certs", "verify", pki.path("revoked.pem"), "--format", "json"] + common)
        #expect(revoked.status == 1 && revoked.stdout.contains("revoked_ocsp") && revoked.stdout.contains("\"nonce\":\"echoed\""))
        // The standard leaf names no responder: it is unknown to this one, asked by --ocsp-url.
        let unknown = try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--ocsp-url", responder.url] + common)
        #expect(unknown.status == 1 && unknown.stdout.contains("ocsp_unknown"))
        #expect(try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--ocsp-url", "ftp://x"] + common).status == 2)
        #expect(try recoveryctl(["certs", "verify", pki.path("leaf.pem"), "--ocsp-timeout", "1e9"] + common).status == 2)

        responder.stop()
        let hard = try recoveryctl(["certs", "verify", pki.path("revoked.pem")] + common)
        #expect(hard.status == 1 && hard.stdout.contains("ocsp_unreachable"))
        let soft = try recoveryctl(["certs", "verify", pki.path("revoked.pem"), "--ocsp-soft-fail"] + common)
        #expect(soft.status == 0 && soft.stdout.contains("ocsp unreachable") && soft.stdout.contains("policy soft_fail"))
        let status = try recoveryctl(["certs", "status", "--store", store, "--format", "json"])
        #expect(status.status == 0 && status.stdout.contains("spiffe://example.org/revoked"))
    }
}
