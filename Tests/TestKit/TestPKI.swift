import Foundation

/// A PKI made at test time (for the Trust tests and the CLI's) with the `openssl` command: a root, an intermediate and leaves, each
/// from an extension section the test chooses.
public final class TestPKI: @unchecked Sendable {
    public init() {}

    public let directory = TemporaryDirectory()

    public enum Failure: Error { case openssl(String) }

    public func run(_ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory.path)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw Failure.openssl(String(decoding: message, as: UTF8.self)) }
    }

    public func path(_ name: String) -> String { directory.path + "/" + name }

    /// A self-signed CA named `name` (files NAME.pem and NAME.key).
    public func root(_ name: String, days: Int = 3650) throws {
        try run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key",
                 "-out", "\(name).pem", "-subj", "/CN=\(name)", "-days", "\(days)",
                 "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
    }

    /// A certificate NAME signed by ISSUER with the extensions given (lines of an openssl
    /// extension section).
    public func issue(_ name: String, by issuer: String, days: Int = 30, serial: Int = Int.random(in: 1...1_000_000), extensions: [String]) throws {
        try FileManager.default.createFile(atPath: path("\(name).ext"), contents: Data(("[v3]\n" + extensions.joined(separator: "\n") + "\n").utf8))
        try run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "\(name).key",
                 "-out", "\(name).csr", "-subj", "/CN=\(name)"])
        try run(["x509", "-req", "-in", "\(name).csr", "-CA", "\(issuer).pem", "-CAkey", "\(issuer).key", "-set_serial", "\(serial)",
                 "-days", "\(days)", "-out", "\(name).pem", "-extfile", "\(name).ext", "-extensions", "v3"])
    }

    /// root.pem, intermediate.pem (CA, 10 years) and leaf.pem (30 days) with the SPIFFE ID given.
    public func standardChain(leafID: String = "spiffe://example.org/workload") throws {
        try root("root")
        try issue("intermediate", by: "root", days: 3650, extensions: Self.intermediate)
        try issue("leaf", by: "intermediate", extensions: Self.leaf(leafID))
    }

    public static let intermediate = ["basicConstraints=critical,CA:true", "keyUsage=critical,keyCertSign,cRLSign"]
    public static func leaf(_ uri: String?) -> [String] {
        ["basicConstraints=critical,CA:false", "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth,clientAuth"]
            + (uri.map { ["subjectAltName=URI:\($0)"] } ?? [])
    }

    /// A CRL named NAME.crl.pem issued by ISSUER revoking the certificates named, valid for
    /// `hours`; `number: false` leaves out the CRL number (which RFC 5280 requires).
    @discardableResult
    public func crl(_ name: String, by issuer: String, revoking: [String], number: Bool = true, hours: Int = 720) throws -> String {
        let database = "\(name).db"
        try FileManager.default.createDirectory(atPath: path(database), withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: path("\(database)/index.txt"), contents: Data())
        if number { FileManager.default.createFile(atPath: path("\(database)/crlnumber"), contents: Data("01\n".utf8)) }
        let config = """
            [ca]
            default_ca = authority
            [authority]
            database = \(path("\(database)/index.txt"))
            \(number ? "crlnumber = \(path("\(database)/crlnumber"))" : "")
            default_md = sha256
            default_crl_hours = \(hours)
            """
        FileManager.default.createFile(atPath: path("\(name).cnf"), contents: Data(config.utf8))
        for revoked in revoking {
            try run(["ca", "-config", "\(name).cnf", "-revoke", "\(revoked).pem", "-keyfile", "\(issuer).key", "-cert", "\(issuer).pem"])
        }
        try run(["ca", "-config", "\(name).cnf", "-gencrl", "-keyfile", "\(issuer).key", "-cert", "\(issuer).pem", "-crlhours", "\(hours)",
                 "-out", "\(name).crl.pem"])
        return path("\(name).crl.pem")
    }

    /// An OCSP response (DER, NAME.ocsp.der) for certificate SUBJECT issued by ISSUER, signed by
    /// SIGNER (the issuer, or a delegated responder), saying `status` (good, revoked, or
    /// unknown: the serial left out of the responder's index), valid for `days`.
    @discardableResult
    public func ocsp(_ name: String, for subject: String, issuer: String, signer: String, status: String, days: Int = 1) throws -> String {
        try run(["x509", "-in", "\(subject).pem", "-noout", "-serial", "-out", "\(name).serial"])
        let serial = try String(contentsOfFile: path("\(name).serial"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
        let line = Self.indexLine(serial: serial, subject: subject, status: status)
        FileManager.default.createFile(atPath: path("\(name).index"), contents: Data(line.utf8))
        try run(["ocsp", "-index", "\(name).index", "-rsigner", "\(signer).pem", "-rkey", "\(signer).key", "-CA", "\(issuer).pem",
                 "-issuer", "\(issuer).pem", "-cert", "\(subject).pem", "-respout", "\(name).ocsp.der", "-ndays", "\(days)"])
        return path("\(name).ocsp.der")
    }

    /// A line of an `openssl ca` index (what `openssl ocsp -index` answers from): good or
    /// revoked; unknown is no line at all.
    public static func indexLine(serial: String, subject: String, status: String) -> String {
        switch status {
        case "good": "V\t491231235959Z\t\t\(serial)\tunknown\t/CN=\(subject)\n"
        case "revoked": "R\t491231235959Z\t200101000000Z\t\(serial)\tunknown\t/CN=\(subject)\n"
        default: ""
        }
    }

    /// Hexadecimal as `openssl x509 -serial` and the index print it (an even number of digits).
    public static func serialHex(_ serial: Int) -> String {
        let hex = String(serial, radix: 16, uppercase: true)
        return hex.count % 2 == 0 ? hex : "0" + hex
    }
}
