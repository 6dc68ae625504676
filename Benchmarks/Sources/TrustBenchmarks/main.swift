import BenchOpenSSL
import BenchWorkload
import EventStore
import Foundation
import Trust

// Issue 15's benchmark: validations per second of a SPIFFE leaf through its intermediate with
// a CRL of 10,000 revoked serials and a pin set, each verdict appended durably, beside bare
// X509_verify_cert on the same certificates in this process (the limit) and beside an
// `openssl verify` process per certificate (what a script would do).
let leafCount = Int(ProcessInfo.processInfo.environment["BENCH_CERTS"] ?? "") ?? 200
let validations = Int(ProcessInfo.processInfo.environment["BENCH_VALIDATIONS"] ?? "") ?? 20_000
let revokedCount = 10_000
let processRuns = 100
let directory = freshDirectory("trust")
print("# trust benchmarks: \(leafCount) leaves, \(validations) validations, CRL of \(revokedCount) serials, durable verdicts")

/// Runs `openssl` in the benchmark directory; its status.
@discardableResult
func openssl(_ arguments: [String]) throws -> Int32 {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: directory)
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    try process.run()
    process.waitUntilExit()
    return process.terminationStatus
}

func write(_ name: String, _ text: String) {
    FileManager.default.createFile(atPath: directory + "/" + name, contents: Data(text.utf8))
}

// The PKI: a root, an intermediate, leaves sharing one key (signing is what is timed, not
// key generation), and a CRL of the intermediate naming 10,000 other serials.
let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
try openssl(["req", "-x509"] + curve + ["-keyout", "root.key", "-out", "root.pem", "-subj", "/CN=root", "-days", "3650",
             "-addext", "basicConstraints=critical,CA:true", "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
write("ca.ext", "[v3]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\n")
try openssl(["req", "-new"] + curve + ["-keyout", "intermediate.key", "-out", "intermediate.csr", "-subj", "/CN=intermediate"])
try openssl(["x509", "-req", "-in", "intermediate.csr", "-CA", "root.pem", "-CAkey", "root.key", "-set_serial", "2", "-days", "3650",
             "-out", "intermediate.pem", "-extfile", "ca.ext", "-extensions", "v3"])
try openssl(["req", "-new"] + curve + ["-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=leaf"])
for i in 0..<leafCount {
    write("leaf-\(i).ext", "[v3]\nbasicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth,clientAuth\n"
          + "subjectAltName=URI:spiffe://bench.example/node/\(i)\n")
    try openssl(["x509", "-req", "-in", "leaf.csr", "-CA", "intermediate.pem", "-CAkey", "intermediate.key", "-set_serial", "\(1_000 + i)",
                 "-days", "30", "-out", "leaf-\(i).pem", "-extfile", "leaf-\(i).ext", "-extensions", "v3"])
}
write("index.txt", (0..<revokedCount).map { "R\t491231235959Z\t240101000000Z\t\(String(format: "%06X", 500_000 + $0))\tunknown\t/CN=gone-\($0)\n" }.joined())
write("crlnumber", "01\n")
write("ca.cnf", "[ca]\ndefault_ca = authority\n[authority]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\ndefault_crl_days = 7\n")
try openssl(["ca", "-config", "ca.cnf", "-gencrl", "-keyfile", "intermediate.key", "-cert", "intermediate.pem", "-out", "crl.pem"])

func file(_ name: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/" + name))) }
let root = try PEM.certificates(try file("root.pem"))[0], intermediate = try PEM.certificates(try file("intermediate.pem"))[0]
let leaves = try (0..<leafCount).map { try PEM.certificates(try file("leaf-\($0).pem"))[0] }
let crl = try RevocationList(bytes: try file("crl.pem"))
var validator = ChainValidator(bundles: ["bench.example": [root]])
validator.crls = [crl]
validator.pins["bench.example"] = PinSet(pins: [intermediate.spkiPin, Data(repeating: 7, count: 32).base64EncodedString()])
let now = Timestamp(seconds: Int64(Date().timeIntervalSince1970))
guard validator.validate(leaf: leaves[0], intermediates: [intermediate], at: now).trusted else { fatalError("the benchmark chain does not validate") }

// 1. Bare X509_verify_cert: one store with the root, the intermediate as untrusted, the
// validation time set; nothing else.
func x509(_ path: String) -> OpaquePointer? {
    guard let bio = BIO_new_file(directory + "/" + path, "r") else { return nil }
    defer { BIO_free(bio) }
    return PEM_read_bio_X509(bio, nil, nil, nil)
}
let bareStore = X509_STORE_new()
X509_STORE_add_cert(bareStore, x509("root.pem"))
let untrusted = OPENSSL_sk_new_null()
OPENSSL_sk_push(untrusted, UnsafeRawPointer(x509("intermediate.pem")))
let bareLeaves = (0..<leafCount).map { x509("leaf-\($0).pem") }
var bareOK = 0
let bareSeconds = seconds {
    for i in 0..<validations {
        let context = X509_STORE_CTX_new()
        X509_STORE_CTX_init(context, bareStore, bareLeaves[i % leafCount], untrusted)
        X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context), time_t(now.seconds))
        if X509_verify_cert(context) == 1 { bareOK += 1 }
        X509_STORE_CTX_free(context)
    }
}
let bareRate = Double(validations) / bareSeconds
// The same on every core, to compare with the concurrent recorder below.
let cores = ProcessInfo.processInfo.activeProcessorCount
/// OpenSSL's objects for the worker threads (X509_STORE is safe to verify against concurrently).
final class BareChain: @unchecked Sendable {
    let store: OpaquePointer?, untrusted: OpaquePointer?, leaves: [OpaquePointer?]
    init(store: OpaquePointer?, untrusted: OpaquePointer?, leaves: [OpaquePointer?]) {
        (self.store, self.untrusted, self.leaves) = (store, untrusted, leaves)
    }
}
let bare = BareChain(store: bareStore, untrusted: untrusted, leaves: bareLeaves)
let (count, time) = (validations, time_t(now.seconds))
let bareParallelSeconds = seconds {
    DispatchQueue.concurrentPerform(iterations: cores) { worker in
        for i in stride(from: worker, to: count, by: cores) {
            let context = X509_STORE_CTX_new()
            X509_STORE_CTX_init(context, bare.store, bare.leaves[i % bare.leaves.count], bare.untrusted)
            X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(context), time)
            _ = X509_verify_cert(context)
            X509_STORE_CTX_free(context)
        }
    }
}
let bareParallelRate = Double(validations) / bareParallelSeconds

// 2. The validator alone (chain, SPIFFE rules, CRL, pin), no log.
var validatorOK = 0
let validatorSeconds = seconds {
    for i in 0..<validations where validator.validate(leaf: leaves[i % leafCount], intermediates: [intermediate], at: now).trusted { validatorOK += 1 }
}

// 3. TrustRecorder: every verdict appended durably. Concurrent validations (as an agent's
// handshakes are) share the store's group commits; one at a time, each waits for its own.
let store = try EventStore.open(at: directory + "/store", options: StoreOptions())
let recorder = TrustRecorder(store: store, validator: validator)
let concurrency = 64
let recordedSeconds = try await asyncSeconds {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for worker in 0..<concurrency {
            group.addTask {
                for i in stride(from: worker, to: validations, by: concurrency) {
                    try await recorder.verify(leaf: leaves[i % leafCount], chain: [intermediate], at: now, fetching: nil)
                }
            }
        }
        try await group.waitForAll()
    }
}
let serialCount = min(validations, 2_000)
let serialSeconds = try seconds {
    for i in 0..<serialCount { try recorder.verify(leaf: leaves[i % leafCount], chain: [intermediate], at: now) }
}
let recorded = try store.head().seq
let writer = store.metrics
store.close()

// 4. `openssl verify` per certificate, with the same CRL and time.
var processOK = 0
let processSeconds = try seconds {
    for i in 0..<processRuns {
        let status = try openssl(["verify", "-attime", "\(now.seconds)", "-CAfile", "root.pem", "-untrusted", "intermediate.pem",
                                  "-crl_check", "-CRLfile", "crl.pem", "leaf-\(i % leafCount).pem"])
        if status == 0 { processOK += 1 }
    }
}

func line(_ name: String, _ rate: Double, _ note: String = "") {
    print(name.padding(toLength: 58, withPad: " ", startingAt: 0) + String(format: "%10.0f /s", rate) + (note.isEmpty ? "" : "  " + note))
}
line("bare X509_verify_cert (chain only, in process)", bareRate, "\(bareOK) ok")
line("bare X509_verify_cert on \(cores) threads", bareParallelRate)
line("ChainValidator: chain+SPIFFE+CRL(10k)+pin, no log", Double(validations) / validatorSeconds,
     String(format: "%.2fx bare, %d ok", Double(validations) / validatorSeconds / bareRate, validatorOK))
line("TrustRecorder, \(concurrency) concurrent, durable verdicts", Double(validations) / recordedSeconds,
     String(format: "%.2fx bare, %.2fx bare on %d threads (goal 0.5x); %llu events, %d commits", Double(validations) / recordedSeconds / bareRate,
            Double(validations) / recordedSeconds / bareParallelRate, cores, recorded, writer.transactions))
line("TrustRecorder, one at a time, a durable commit each", Double(serialCount) / serialSeconds, String(format: "%.2fx bare", Double(serialCount) / serialSeconds / bareRate))
line("openssl verify, a process per certificate (+CRL)", Double(processRuns) / processSeconds, "\(processOK)/\(processRuns) ok")
