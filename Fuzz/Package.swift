// swift-tools-version:6.0
// The libFuzzer targets, one per decoder of outside bytes. A package of its own, because every
// target is built with -sanitize=fuzzer,address: `make fuzz` (see the README).
import Foundation
import PackageDescription

// The main package's identity is the name of the folder it is cloned into.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent
let targets = ["import-line", "export-line", "cbor", "record", "snapshot", "projections", "time-argument", "archive-marks", "policy-document", "opa-answer", "runbook-document", "sync-binary", "sync-json", "spiffe-id", "certificate", "crl", "ocsp-response"]

let package = Package(
    name: "RecoveryEngineFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .target(name: "FuzzDriver", dependencies: [.product(name: "FuzzChecks", package: root)]),
    ] + targets.map { name in
        .executableTarget(name: "fuzz-\(name)", dependencies: ["FuzzDriver", .product(name: "FuzzChecks", package: root)],
                          path: "Targets/\(name)")
    },
    swiftLanguageModes: [.v6]
)
