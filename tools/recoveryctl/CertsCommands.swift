import ArgumentParser
import EventStore
import Foundation
import Projections
import Trust

struct CertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "certs", abstract: "Validate SPIFFE X.509-SVIDs and record each verdict; show what the log knows of certificates.",
        subcommands: [Verify.self, Status.self])

    struct Verify: AsyncRun {
        static let configuration = CommandConfiguration(
            abstract: "Validate CERT (PEM: the leaf, then any intermediates) and record the verdict (cert.verdict).",
            discussion: "Exit 0 trusted, 1 rejected, 2 bad usage or unreadable input (nothing recorded then). The store is created if missing. OCSP: stapled responses as files (--ocsp-response), or fetched (--ocsp-fetch) from the leaf's AIA responder or --ocsp-url, with a nonce; an unreachable responder rejects unless --ocsp-soft-fail, and the verdict records which.")
        @OptionGroup var global: GlobalArguments
        @Argument(help: "The certificate PEM file.") var certificate: String
        @Option(help: "More intermediates (PEM).") var chain: String?
        @Option(help: "A trust bundle: DOMAIN=PEM (repeatable).") var bundle: [String] = []
        @Option(help: "A CRL, PEM or DER (repeatable); matched to certificates by issuer.") var crl: [String] = []
        @Flag(help: "Check every certificate of the chain against its issuer's CRL, not only the leaf.") var crlChain = false
        @Option(name: .customLong("ocsp-response"), help: "A DER OCSP response for the leaf (stapled or fetched earlier; repeatable).") var ocspResponse: [String] = []
        @Flag(name: .customLong("ocsp-fetch"), help: "Ask the OCSP responder (HTTP POST with a nonce) for the leaf's status.") var ocspFetch = false
        @Option(name: .customLong("ocsp-url"), help: "The responder to ask instead of the leaf's AIA URL (with --ocsp-fetch).") var ocspURL: String?
        @Flag(name: .customLong("ocsp-soft-fail"), help: "Trust when the responder cannot be reached (recorded in the verdict); default hard-fail.") var ocspSoftFail = false
        @Option(name: .customLong("ocsp-timeout"), help: "Seconds to wait for the responder (0.1 to 60).") var ocspTimeout: Double = 5
        @Option(help: "An SPKI pin, DOMAIN_OR_ID=BASE64 of the SHA-256 (repeatable); each set needs a backup pin outside the chain.") var pin: [String] = []
        @Option(help: "Validate at this time (RFC 3339 or relative); default now.") var at: String?
        @Option(help: "table or json.") var format: StateFormat = .table

        func runAsync() async throws {
            guard !bundle.isEmpty else { throw CLIFailure.usage("give at least one --bundle DOMAIN=PEM") }
            let fetcher = try makeFetcher()
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
            let leaf = presented[0], chain = Array(presented.dropFirst())
            let verdict = try await storeCall {
                if let fetcher { return try await recorder.verify(leaf: leaf, chain: chain, at: time, fetching: fetcher) }
                return try recorder.verify(leaf: leaf, chain: chain, at: time)
            }
            if format == .json {
                print(JSONWriter.encode(verdict.payload))
            } else {
                print("\(verdict.trusted ? "trusted" : "rejected")  \(verdict.spiffeID.isEmpty ? "(no SPIFFE ID)" : verdict.spiffeID)  serial \(verdict.serial)")
                if !verdict.reasons.isEmpty { print("reasons: " + verdict.reasons.joined(separator: ", ")) }
                print("checks:  " + verdict.checks.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                if let fetch = verdict.ocspFetch {
                    print("ocsp:    " + fetch.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                }
            }
            if !verdict.trusted { throw CLIFailure(code: 1, message: "rejected: " + verdict.reasons.joined(separator: ", ")) }
        }

        /// The fetcher --ocsp-fetch asks for, checked before anything is read or recorded.
        func makeFetcher() throws -> OCSPFetcher? {
            guard ocspFetch else {
                if ocspURL != nil || ocspSoftFail { throw CLIFailure.usage("--ocsp-url and --ocsp-soft-fail go with --ocsp-fetch") }
                return nil
            }
            guard ocspResponse.isEmpty else { throw CLIFailure.usage("give --ocsp-response or --ocsp-fetch, not both") }
            guard ocspTimeout.isFinite, (0.1...60).contains(ocspTimeout) else { throw CLIFailure.usage("--ocsp-timeout must be 0.1 to 60 seconds") }
            let url = try ocspURL.map { text in
                guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                    throw CLIFailure.usage("--ocsp-url \(text): expected an http:// or https:// URL")
                }
                return url
            }
            return OCSPFetcher(responderURL: url, timeoutSeconds: ocspTimeout, softFail: ocspSoftFail)
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
