// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "RecoveryEngine",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "EventStore", targets: ["EventStore"]),
        .library(name: "Projections", targets: ["Projections"]),
        .library(name: "Healing", targets: ["Healing"]),
        .library(name: "Replication", targets: ["Replication"]),
        .library(name: "Trust", targets: ["Trust"]),
        .library(name: "Policies", targets: ["Policies"]),
        .library(name: "RecoveryEngine", targets: ["RecoveryEngine"]),
        .library(name: "MeshSimulation", targets: ["MeshSimulation"]),
        .executable(name: "recoveryctl", targets: ["recoveryctl"]),
        // The properties the fuzz targets check (Fuzz/, a package of its own) and the corpus
        // test replays in `make test`; not for agents.
        .library(name: "FuzzChecks", targets: ["FuzzChecks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // recoveryctl serve only: HTTP for /metrics and sync, logs, graceful shutdown.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.0.0"),
    ],
    targets: [
        .systemLibrary(name: "CLMDB", pkgConfig: "lmdb", providers: [.apt(["liblmdb-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "EventStore", dependencies: ["CLMDB", "COpenSSL"]),
        .target(name: "Projections", dependencies: ["EventStore"]),
        .target(name: "Healing", dependencies: ["EventStore", "Projections"]),
        .target(name: "Replication", dependencies: ["EventStore", "Projections"]),
        // SPIFFE X.509-SVID validation (issue 15); so far the SPIFFE ID parser.
        .target(name: "Trust", dependencies: ["EventStore", "Projections", "COpenSSL"]),
        // Zero-trust policies: versioned documents in the log, the built-in rule language, OPA.
        .target(name: "Policies", dependencies: ["EventStore", "Projections"]),
        .target(name: "RecoveryEngine", dependencies: ["EventStore", "Projections", "Healing", "Replication", "Trust", "Policies"]),
        .target(name: "MeshSimulation", dependencies: ["Healing", "EventStore", "Projections"]),
        .executableTarget(
            name: "recoveryctl",
            dependencies: ["EventStore", "Projections", "Healing", "Replication", "Trust", "Policies", "RecoveryEngine", "MeshSimulation",
                           .product(name: "ArgumentParser", package: "swift-argument-parser"),
                           .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Logging", package: "swift-log"),
                           .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
            path: "tools/recoveryctl"),
        .target(name: "FuzzChecks", dependencies: ["EventStore", "Projections", "Healing", "Replication", "Trust", "Policies"], path: "Fuzz/Checks"),
        // A child process that appends until it is killed; the crash-safety tests drive it.
        .executableTarget(name: "StoreCrashHelper", dependencies: ["EventStore"], path: "Tests/StoreCrashHelper"),
        // Shared by the test targets: temporary directories and the projection determinism check
        // that every projection plugs into.
        .target(name: "TestKit", dependencies: ["EventStore", "Projections"], path: "Tests/TestKit"),
        .testTarget(name: "EventStoreTests", dependencies: ["EventStore", "TestKit", "StoreCrashHelper", "recoveryctl"]),
        .testTarget(name: "FuzzCorpusTests", dependencies: ["FuzzChecks", "TestKit"]),
        .testTarget(name: "ProjectionsTests", dependencies: ["Projections", "EventStore", "TestKit"]),
        .testTarget(name: "ReplicationTests", dependencies: ["Replication", "EventStore", "Projections", "TestKit"]),
        .testTarget(name: "RecoveryEngineTests", dependencies: ["RecoveryEngine", "Healing", "Replication", "Trust", "MeshSimulation", "EventStore", "Projections", "TestKit"]),
        .testTarget(name: "TrustTests", dependencies: ["Trust", "Healing", "EventStore", "Projections", "TestKit"]),
        .testTarget(name: "PoliciesTests", dependencies: ["Policies", "Healing", "RecoveryEngine", "EventStore", "Projections", "TestKit"]),
        .testTarget(name: "HealingTests", dependencies: ["Healing", "MeshSimulation", "Projections", "EventStore", "TestKit"]),
    ],
    swiftLanguageModes: [.v6]
)
