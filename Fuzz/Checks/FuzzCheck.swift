import EventStore

/// A property a decoder broke on one input: what the fuzz targets trap on and what the
/// corpus test in `make test` reports.
public struct FuzzFinding: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// One decoder of outside bytes and the properties it must keep on every input, beyond not
/// crashing: round trips where the codec has them, agreement where two readers exist.
public struct FuzzCheck: Sendable {
    /// The target's name: the executable `fuzz-NAME` and the corpus folder `Fuzz/Corpus/NAME`.
    public let name: String
    public let check: @Sendable ([UInt8]) throws(FuzzFinding) -> Void
    /// Inputs that reach deep into the decoder, written as the seed corpus.
    public let seeds: @Sendable () -> [[UInt8]]

    /// Every target, by name.
    public static let all: [FuzzCheck] = [.importLine, .exportLine, .cbor, .record, .snapshot, .projections, .timeArgument, .archiveMarks, .policyDocument, .opaAnswer, .runbookDocument, .syncBinary, .syncJSON, .spiffeID, .certificate, .crl, .ocspResponse]

    public static func named(_ name: String) -> FuzzCheck? { all.first { $0.name == name } }
}

/// Fails with `message` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws(FuzzFinding) {
    if !condition { throw FuzzFinding(message()) }
}

extension EventValue {
    /// Canonical CBOR, which tells values apart exactly (NaN equals NaN, -0.0 differs from 0.0).
    var canonical: [UInt8] { CBORWriter.encode(self) }
}
