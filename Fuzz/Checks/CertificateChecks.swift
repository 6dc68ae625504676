import EventStore
import Foundation
import Trust

extension FuzzCheck {
    /// Certificate bytes (PEM, or DER when no PEM block is found): whatever OpenSSL parses
    /// answers every question the validator asks of it, re-encodes to DER that parses again
    /// with the same serial, and meets the SVID rules with a result or a typed error.
    public static let certificate = FuzzCheck(name: "certificate", check: { bytes throws(FuzzFinding) in
        let certificates = (try? PEM.certificates(bytes)) ?? ((try? Certificate(der: bytes)).map { [$0] } ?? [])
        for certificate in certificates {
            _ = (certificate.uriNames, certificate.isCA, certificate.keyUsage, certificate.extendedKeyUsage)
            _ = (certificate.notBefore, certificate.notAfter, certificate.signatureAlgorithm)
            guard let again = try? Certificate(der: certificate.der) else { throw FuzzFinding("a parsed certificate's DER does not parse") }
            try require(again.serial == certificate.serial, "serial changed through DER: \(certificate.serial)")
        }
        _ = try? X509SVID.check(certificates)
        if let leaf = certificates.first {
            _ = ChainValidator(bundles: ["example.org": Array(certificates.dropFirst())]).validate(leaf: leaf, at: Timestamp(seconds: 1_795_000_000))
        }
    }, seeds: {
        [Array(seedLeaf.utf8), Array(seedAuthority.utf8), Array((seedLeaf + seedAuthority).utf8),
         (try? PEM.blocks(Array(seedLeaf.utf8)))?.first?.der ?? [], Array("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".utf8)]
    })

    /// CRL bytes: whatever parses is checked against the seed authority without trapping.
    public static let crl = FuzzCheck(name: "crl", check: { bytes throws(FuzzFinding) in
        guard let list = try? RevocationList(bytes: bytes) else { return }
        let (leaf, authority) = try seedChain()
        var validator = ChainValidator(bundles: ["example.org": [authority]])
        validator.crls = [list]
        validator.crlWholeChain = true
        _ = validator.validate(leaf: leaf, at: Timestamp(seconds: 1_795_000_000))
    }, seeds: {
        [Array(seedCRL.utf8), (try? PEM.blocks(Array(seedCRL.utf8)))?.first?.der ?? [], Array("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n".utf8)]
    })
}

extension FuzzCheck {
    /// OCSP response bytes: whatever parses as a successful response is checked for the seed
    /// leaf without trapping, as a stapled response would be.
    public static let ocspResponse = FuzzCheck(name: "ocsp-response", check: { bytes throws(FuzzFinding) in
        guard let response = try? OCSPResponse(der: bytes) else { return }
        let (leaf, authority) = try seedChain()
        var validator = ChainValidator(bundles: ["example.org": [authority]])
        validator.ocspResponses = [response]
        _ = validator.validate(leaf: leaf, at: Timestamp(seconds: 1_795_000_000))
    }, seeds: {
        [seedOCSPResponse, Array(seedOCSPResponse.prefix(40)), [0x30, 0x03, 0x0a, 0x01, 0x01]]
    })
}

/// The seed leaf and its authority, parsed.
func seedChain() throws(FuzzFinding) -> (leaf: Certificate, authority: Certificate) {
    guard let leaf = try? PEM.certificates(Array(seedLeaf.utf8)).first, let authority = try? PEM.certificates(Array(seedAuthority.utf8)).first else {
        throw FuzzFinding("the seed certificates do not parse")
    }
    return (leaf, authority)
}

/// A good response for the seed leaf, signed by its authority (`openssl ocsp`, once).
let seedOCSPResponse = Array(Data(base64Encoded: "MIICvwoBAKCCArgwggK0BgkrBgEFBQcwAQEEggKlMIICoTCBs6EUMBIxEDAOBgNVBAMMB3NlZWQtY2EYDzIwMjYxMjA1MDQxOTQxWjBlMGMwOzAJBgUrDgMCGgUABBTEg4Gom4De1S4edQy5Ui1Mkdpy+QQUWqJvNSEoyjQMOtYkQtcr6ySugDUCAhCSgAAYDzIwMjYxMjA1MDQxOTQxWqARGA8yMDI2MTIwNjA0MTk0MVqhIzAhMB8GCSsGAQUFBzABAgQSBBBmgd8deKBw+dEztjk4O8ZOMAoGCCqGSM49BAMCA0cAMEQCICYC9ptpQ/sZgq2LXzhoR+eAN0n6Of5TewKFpWLyMG34AiBClxNa/B6OkD/P3GTK1klsLJlgnl7hgUdHTcbyOZKTnKCCAZIwggGOMIIBijCCATGgAwIBAgIUQq9bAKqV6rzKW7ReLYyqqbtbHhYwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHc2VlZC1jYTAgFw0yNjEyMDUwNDA0MjVaGA8yMTI2MTExMTA0MDQyNVowEjEQMA4GA1UEAwwHc2VlZC1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABM1rHOuYZaYubik4mqDXepkaaeeqt/Hj8kB9lpj+I5nIeknC6s87xcwNx1NOIIG8q9qIluSSEekk471TyWECC6+jYzBhMB0GA1UdDgQWBBRaom81ISjKNAw61iRC1yvrJK6ANTAfBgNVHSMEGDAWgBRaom81ISjKNAw61iRC1yvrJK6ANTAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNHADBEAiB9FS4sVaEIkwN5v2kpxNB4v88CaGZFiy3it+guVGqQ+wIgAUnEBiP3XID99bZR5qhzMDxcG3EUrGhHGQkEs5GY9J8=") ?? Data())

/// A leaf (spiffe://example.org/seed, serial 4242), its authority, and a CRL of the authority
/// revoking it, made once with the openssl command for the seeds.
let seedLeaf = """
-----BEGIN CERTIFICATE-----
MIIBujCCAWCgAwIBAgICEJIwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHc2VlZC1j
YTAgFw0yNjEyMDUwNDA0MjVaGA8yMTI2MTExMTA0MDQyNVowDzENMAsGA1UEAwwE
bGVhZjBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABElyXSw9c6iU4fO11oPxBLH4
AVuFki97Lbydxv7tCPc6tiQTdpY6yrrvATD17t0e2koPhGhZomiPIUv+44FY9Rqj
gaYwgaMwDAYDVR0TAQH/BAIwADAOBgNVHQ8BAf8EBAMCB4AwHQYDVR0lBBYwFAYI
KwYBBQUHAwEGCCsGAQUFBwMCMCQGA1UdEQQdMBuGGXNwaWZmZTovL2V4YW1wbGUu
b3JnL3NlZWQwHQYDVR0OBBYEFAiyQSirSOIB+mVG2IUVVHLuANujMB8GA1UdIwQY
MBaAFFqibzUhKMo0DDrWJELXK+skroA1MAoGCCqGSM49BAMCA0gAMEUCIQDWMfmr
X7OwotsvbK/9srKcePBP3el/7Y0yubPQJ3X9PwIgWEYkw7fp4UBcjs4Db2S3xBcX
XMgg2fW2BGBGaLQHTXc=
-----END CERTIFICATE-----
"""

let seedAuthority = """
-----BEGIN CERTIFICATE-----
MIIBijCCATGgAwIBAgIUQq9bAKqV6rzKW7ReLYyqqbtbHhYwCgYIKoZIzj0EAwIw
EjEQMA4GA1UEAwwHc2VlZC1jYTAgFw0yNjEyMDUwNDA0MjVaGA8yMTI2MTExMTA0
MDQyNVowEjEQMA4GA1UEAwwHc2VlZC1jYTBZMBMGByqGSM49AgEGCCqGSM49AwEH
A0IABM1rHOuYZaYubik4mqDXepkaaeeqt/Hj8kB9lpj+I5nIeknC6s87xcwNx1NO
IIG8q9qIluSSEekk471TyWECC6+jYzBhMB0GA1UdDgQWBBRaom81ISjKNAw61iRC
1yvrJK6ANTAfBgNVHSMEGDAWgBRaom81ISjKNAw61iRC1yvrJK6ANTAPBgNVHRMB
Af8EBTADAQH/MA4GA1UdDwEB/wQEAwIBBjAKBggqhkjOPQQDAgNHADBEAiB9FS4s
VaEIkwN5v2kpxNB4v88CaGZFiy3it+guVGqQ+wIgAUnEBiP3XID99bZR5qhzMDxc
G3EUrGhHGQkEs5GY9J8=
-----END CERTIFICATE-----
"""

let seedCRL = """
-----BEGIN X509 CRL-----
MIHDMGoCAQEwCgYIKoZIzj0EAwIwEjEQMA4GA1UEAwwHc2VlZC1jYRcNMjYxMjA1
MDQwNDI1WhgPMjEyNjExMTEwNDA0MjVaMBUwEwICEJIXDTI2MTIwNTA0MDQyNVqg
DjAMMAoGA1UdFAQDAgEBMAoGCCqGSM49BAMCA0kAMEYCIQCn+M1JTtnO8iJlzO7i
KelTxYSXqfGQdKszmrZUm0ULYQIhAJTSS7Bkyh9p6bIBdYhBhgLAnaHeGe60kamM
lLQF5dEl
-----END X509 CRL-----
"""
