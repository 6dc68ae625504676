import ArgumentParser
import EventStore
import Foundation
import Projections
import Trust

struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs", abstract: "Validate SPIFFE X.509-SVIDs and record each verdict; show what the log knows of certificates.",
        subcommands: [Verify.self, Status.self])

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Validate CERT (PEM: the leaf, then any intermediates) and record the verdict (cert.verdict).",
            discussion: "Exit 0 trusted, 1 rejected, 2 bad usage or unreadable input (nothing recorded then). The store is created if missing. OCSP responses are given as files (--ocsp-response); fetching is not built yet (issue 15).")
        @OptionGroup var global: GlobalArguments
        @Argument(help: "The certificate PEM file.") var certificate: String
        @Option(help: "More intermediates (PEM).") var chain: String?
        @Option(help: "A trust bundle: DOMAIN=PEM (repeatable).") var bundle: [String] = []
        @Option(help: "A CRL, PEM or DER (repeatable); matched to certificates by issuer.") var crl: [String] = []
        @Flag(help: "Check every certificate of the chain against its issuer's CRL, not only the leaf.") var crlChain = false
        @Option(name: .customLong("ocsp-response"), help: "A DER OCSP response for the leaf (stapled or fetched earlier; repeatable).") var ocspResponse: [String] = []
        @Option(help: "An SPKI pin, DOMAIN_OR_ID=BASE64 of the SHA-256 (repeatable); each set needs a backup pin outside the chain.") var pin: [String] = []
        @Option(help: "Validate at this time (RFC 3339 or relative); default now.") var at: String?
        @Option(help: "table or json.") var format: StateFormat = .table

        func run() throws {
            guard !bundle.isEmpty else { throw CLIFailure.usage("give at least one --bundle DOMAIN=PEM") }
            var bundles: [String: [Certificate]] = [:]
            for item in bundle {
                guard let equals = item.firstIndex(of: "=") else { throw CLIFailure.usage("--bundle \(item): expected DOMAIN=PEM") }
                let domain = String(item[..<equals])
                do { _ = try SPIFFEID.trustDomain(parsing: domain) } catch { throw CLIFailure.usage("--bundle \(item): \(error)") }
                bundles[domain, default: []] += try readCertificates(String(item[item.index(after: equals)...]))
            }
            let crls = try crl.map { path in
                do { return try RevocationList(bytes: try readFile(path, limit: PEM.maximumBytes * 16)) } catch let error as CertificateError {
                    throw CLIFailure.usage("\(path): not a CRL (\(error))")
                }
            }
            var presented = try readCertificates(certificate)
            if let chain { presented += try readCertificates(chain) }
            let time = try at.map { try TimeArgument.parse($0, option: "--at") }
            let store = try global.openForWriting()
            defer { store.close() }
            var validator = ChainValidator(bundles: bundles)
            validator.crls = crls
            validator.crlWholeChain = crlChain
            validator.ocspResponses = try ocspResponse.map { path in
                do { return try OCSPResponse(der: try readFile(path, limit: PEM.maximumBytes)) } catch let error as CertificateError {
                    throw CLIFailure.usage("\(path): not a successful OCSP response (\(error))")
                }
            }
            for item in pin {
                guard let equals = item.firstIndex(of: "="), let digest = Data(base64Encoded: String(item[item.index(after: equals)...])),
                      digest.count == 32 else {
                    throw CLIFailure.usage("--pin \(item): expected DOMAIN_OR_ID=BASE64 of a SHA-256")
                }
                validator.pins[String(item[..<equals]), default: PinSet(pins: [])].pins.insert(digest.base64EncodedString())
            }
            let recorder = TrustRecorder(store: store, validator: validator)
            let verdict = try storeCall { try recorder.verify(leaf: presented[0], chain: Array(presented.dropFirst()), at: time) }
            if format == .json {
                print(JSONWriter.encode(verdict.payload))
            } else {
                print("\(verdict.trusted ? "trusted" : "rejected")  \(verdict.spiffeID.isEmpty ? "(no SPIFFE ID)" : verdict.spiffeID)  serial \(verdict.serial)")
                if !verdict.reasons.isEmpty { print("reasons: " + verdict.reasons.joined(separator: ", ")) }
                print("checks:  " + verdict.checks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
            }
            if !verdict.trusted { throw CLIFailure(code: 1, message: "rejected: " + verdict.reasons.joined(separator: ", ")) }
        }

        func readCertificates(_ path: String) throws -> [Certificate] {
            let bytes = try readFile(path, limit: PEM.maximumBytes)
            do {
                let certificates = try PEM.certificates(bytes)
                guard !certificates.isEmpty else { throw CLIFailure.usage("\(path): no certificates found") }
                return certificates
            } catch let error as CertificateError {
                throw CLIFailure.usage("\(path): \(error)")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The latest verdict per SPIFFE ID, revoked serials and expiries, now or at a past point.")
        @OptionGroup var global: GlobalArguments
        @Option(name: .customLong("at-seq"), help: "As after events 1 through N.") var atSeq: UInt64?
        @Option(name: .customLong("at-time"), help: "As after the last event at or before this time.") var atTime: String?
        @Option(help: "table or json.") var format: StateFormat = .table

        func run() throws {
            if atSeq != nil && atTime != nil { throw CLIFailure.usage("give --at-seq or --at-time, not both") }
            let store = try global.openExisting()
            defer { store.close() }
            let point: ReplayPoint? = try atSeq.map { .seq($0) } ?? atTime.map { .time(try TimeArgument.parse($0, option: "--at-time")) }
            let seq = try projectionCall { try point.map { try store.resolve($0) } ?? store.head().seq }
            let projection = CertificatesProjection()
            let state = try projectionCall { seq == 0 ? projection.initialState : try Replay(store: store, projection: projection).state(at: seq) }
            if format == .json {
                print(JSONWriter.encode(try projectionCall { try projection.encode(state).value() }))
                return
            }
            print(pad("SPIFFE ID", 44) + pad("VERDICT", 10) + pad("NOT AFTER", 22) + pad("SEQ", 8) + "REASONS")
            for (id, latest) in state.value.bySPIFFEID.sorted(by: { $0.key < $1.key }) {
                let v = latest.verdict
                print(pad(id, 44) + pad(v.trusted ? "trusted" : "rejected", 10) + pad(Timestamp(seconds: v.notAfter).rfc3339.prefix(19) + "Z", 22)
                      + pad("\(latest.seq)", 8) + v.reasons.joined(separator: ","))
            }
            print("\(state.value.bySerial.count) certificates seen, \(state.value.revokedSerials.count) revoked")
        }
    }
}
