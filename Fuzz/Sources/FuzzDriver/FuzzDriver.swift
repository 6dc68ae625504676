import FuzzChecks
#if canImport(Glibc)
import Glibc
#endif

// libFuzzer's own entry point: an executable's `main` would collide with the one libFuzzer
// brings, so the target's main hands control to the driver instead.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

/// The check libFuzzer's callback runs: set once, before the driver starts.
nonisolated(unsafe) private var current: FuzzCheck?

/// Runs libFuzzer over `check`: a finding prints what broke and aborts, so libFuzzer writes the
/// input as a crash file. With `FUZZ_WRITE_SEEDS=DIR` it writes the target's seeds there
/// instead (`make fuzz-seeds`).
public func runFuzzer(_ check: FuzzCheck) -> Never {
    if let directory = getenv("FUZZ_WRITE_SEEDS").map({ String(cString: $0) }) {
        for (index, seed) in check.seeds().enumerated() {
            guard let file = fopen("\(directory)/seed-\(index)", "wb") else { exit(1) }
            _ = seed.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
            fclose(file)
        }
        exit(0)
    }
    current = check
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
        do throws(FuzzFinding) { try current?.check(bytes) } catch {
            let message = "fuzz finding in \(current?.name ?? "?"): \(error.description)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            abort()
        }
        return 0
    })
}
