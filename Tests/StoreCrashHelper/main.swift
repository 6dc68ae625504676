// A child process for the durability tests. It appends in a loop and prints `ack SEQ` after each
// acknowledged batch, so the parent knows exactly what the store has promised.
//
//   StoreCrashHelper STORE append [--batch N] [--max N] [--fsize-limit BYTES] [--map-size BYTES]
import EventStore
#if canImport(Glibc)
import Glibc
#endif

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2, arguments[1] == "append" else {
    print("usage: StoreCrashHelper STORE append [--batch N] [--max N] [--fsize-limit BYTES] [--map-size BYTES]")
    exit(2)
}
func option(_ name: String) -> Int? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return Int(arguments[i + 1])
}
let batchSize = option("--batch") ?? 10
let maximum = option("--max") ?? Int.max
if let limit = option("--fsize-limit") {
    // A file-size limit stands in for a full disk: writes past it fail with EFBIG.
    signal(SIGXFSZ, SIG_IGN)
    var rl = rlimit(rlim_cur: rlim_t(limit), rlim_max: rlim_t(limit))
    setrlimit(Int32(RLIMIT_FSIZE.rawValue), &rl)
}
var options = StoreOptions()
options.nodeID = "crash-\(getpid())"
if let mapSize = option("--map-size") { options.mapSize = mapSize }
do {
    let store = try EventStore.open(at: arguments[0], options: options)
    print("ready")
    fflush(nil)
    var written = 0
    let filler = String(repeating: "x", count: 120)
    while written < maximum {
        let batch = (0..<batchSize).map { k in
            NewEvent(type: "test.tick", stream: "tick/\((written + k) % 7)",
                     data: ["n": .int(Int64(written + k)), "pid": .int(Int64(getpid())), "pad": .string(filler)],
                     tags: ["writer": "\(getpid())"])
        }
        let result = try store.appendBlocking(batch)
        written += batchSize
        print("ack \(result.positions.last ?? 0)")
        fflush(nil)
    }
    store.close()
    print("done")
} catch {
    print("error \(error)")
    fflush(nil)
    exit(1)
}
