// swift-tools-version:6.0
import PackageDescription

// Measures RecoveryEngine against raw LMDB (the physical limit) and SQLite in WAL mode (what a
// user would pick instead), in one process. Run with `make bench` from the repository root.
let package = Package(
    name: "RecoveryBenchmarks",
    dependencies: [.package(name: "RecoveryEngine", path: "..")],
    targets: [
        .systemLibrary(name: "BenchLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "BenchSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .executableTarget(name: "RecoveryBenchmarks", dependencies: [
            "BenchLMDB", "BenchSQLite", .product(name: "EventStore", package: "RecoveryEngine"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
