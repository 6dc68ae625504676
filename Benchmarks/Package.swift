// swift-tools-version:6.0
import PackageDescription

// Measures RecoveryEngine against raw LMDB (the physical limit) and SQLite in WAL mode (what a
// user would pick instead), in one process. Run with `make bench` from the repository root.
let package = Package(
    name: "RecoveryBenchmarks",
    dependencies: [.package(name: "RecoveryEngine", path: "..")],
    targets: [
        .systemLibrary(name: "BenchLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "BenchOpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "BenchSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .target(name: "BenchWorkload", dependencies: ["BenchLMDB", "BenchSQLite", .product(name: "EventStore", package: "RecoveryEngine")]),
        .executableTarget(name: "RecoveryBenchmarks", dependencies: [
            "BenchLMDB", "BenchSQLite", "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
        ]),
        // Issue 3: projection rebuild, state(at:) latency and memory.
        .executableTarget(name: "ProjectionBenchmarks", dependencies: [
            "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
            .product(name: "Projections", package: "RecoveryEngine"),
        ]),
        // Issue 4: guarded action overhead and a 10,000-action scenario.
        .executableTarget(name: "HealingBenchmarks", dependencies: [
            "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
            .product(name: "Healing", package: "RecoveryEngine"),
        ]),
        // Issue 14: replication apply rate, sync time and bytes, collection on churn.
        .executableTarget(name: "ReplicationBenchmarks", dependencies: [
            "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
            .product(name: "Projections", package: "RecoveryEngine"), .product(name: "Replication", package: "RecoveryEngine"),
        ]),
        // Issue 15: chain + CRL + pin validations with durable verdicts, beside bare
        // X509_verify_cert and an `openssl verify` process per certificate.
        .executableTarget(name: "TrustBenchmarks", dependencies: [
            "BenchOpenSSL", "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
            .product(name: "Trust", package: "RecoveryEngine"),
        ]),
        // Issue 16: exposition rendering, /metrics under concurrent scrapers, sync over HTTP.
        .executableTarget(name: "AgentBenchmarks", dependencies: [
            "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
            .product(name: "Healing", package: "RecoveryEngine"), .product(name: "Replication", package: "RecoveryEngine"),
            .product(name: "Trust", package: "RecoveryEngine"), .product(name: "RecoveryEngine", package: "RecoveryEngine"),
        ]),
        // Issue 17: timeline export, backup beside mdb_copy -c, drill.
        .executableTarget(name: "ForensicsBenchmarks", dependencies: [
            "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
        ]),
        // Appends the workload: a target for `perf record` on the append path.
        .executableTarget(name: "AppendProfile", dependencies: [
            "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
        ]),
        // Builds a store and scans it repeatedly: a target for `perf record` on the replay path.
        .executableTarget(name: "ScanProfile", dependencies: [
            "BenchWorkload", .product(name: "EventStore", package: "RecoveryEngine"),
            .product(name: "Projections", package: "RecoveryEngine"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
