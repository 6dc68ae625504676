/// Why a string is not a SPIFFE ID, a trust domain or a path (the error classes of the SPIFFE
/// ID standard's reference implementation, go-spiffe, so that conformance is checked per class).
public enum SPIFFEIDError: Error, Sendable, Hashable, CustomStringConvertible {
    case empty
    case wrongScheme
    case missingTrustDomain
    case badTrustDomainCharacter
    case noLeadingSlash
    case emptySegment
    case dotSegment
    case trailingSlash
    case badPathCharacter
    case tooLong(bytes: Int)

    public var description: String {
        switch self {
        case .empty: return "cannot be empty"
        case .wrongScheme: return "scheme is missing or invalid"
        case .missingTrustDomain: return "trust domain is missing"
        case .badTrustDomainCharacter: return "trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores"
        case .noLeadingSlash: return "path must have a leading slash"
        case .emptySegment: return "path cannot contain empty segments"
        case .dotSegment: return "path cannot contain dot segments"
        case .trailingSlash: return "path cannot have a trailing slash"
        case .badPathCharacter: return "path segment characters are limited to letters, numbers, dots, dashes, and underscores"
        case .tooLong(let bytes): return "\(bytes) bytes; a SPIFFE ID is at most \(SPIFFEID.maximumBytes)"
        }
    }
}

/// A SPIFFE ID (`spiffe://trust-domain/path`), parsed per the SPIFFE ID standard: the scheme
/// exactly `spiffe://`, a trust domain of lower-case letters, digits, `.`, `-` and `_`, path
/// segments of letters, digits, `.`, `-` and `_`, no empty, `.` or `..` segment, no trailing
/// slash, and so no query, fragment, port or user info (their characters are refused).
public struct SPIFFEID: Sendable, Hashable, Codable, CustomStringConvertible {
    public let trustDomain: String
    /// Empty, or `/` followed by segments joined by `/`.
    public let path: String

    /// The longest SPIFFE ID accepted (the standard's limit for URI SANs).
    public static let maximumBytes = 2_048
    static let scheme = Array("spiffe://".utf8)

    public init(parsing text: String) throws(SPIFFEIDError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.maximumBytes else { throw .tooLong(bytes: bytes.count) }
        guard bytes.starts(with: Self.scheme) else { throw .wrongScheme }
        let rest = bytes[Self.scheme.count...]
        let slash = rest.firstIndex(of: UInt8(ascii: "/")) ?? rest.endIndex
        for byte in rest[..<slash] where !Self.isTrustDomainCharacter(byte) { throw .badTrustDomainCharacter }
        guard slash > rest.startIndex else { throw .missingTrustDomain }
        let path = rest[slash...]
        try Self.validatePath(path)
        trustDomain = String(decoding: rest[..<slash], as: UTF8.self)
        self.path = String(decoding: path, as: UTF8.self)
    }

    /// An ID from a trust domain and path segments (each checked on its own).
    public init(trustDomain: String, segments: [String]) throws(SPIFFEIDError) {
        self.trustDomain = try Self.trustDomain(parsing: trustDomain)
        path = try Self.joinPathSegments(segments)
    }

    public var description: String { "spiffe://\(trustDomain)\(path)" }

    /// Whether the ID names the trust domain itself (no path): not valid for a workload.
    public var isTrustDomainID: Bool { path.isEmpty }

    /// A trust domain from its name or from a SPIFFE ID (anything holding `:/` is read as one).
    public static func trustDomain(parsing text: String) throws(SPIFFEIDError) -> String {
        guard !text.isEmpty else { throw .missingTrustDomain }
        if text.contains(":/") { return try SPIFFEID(parsing: text).trustDomain }
        for byte in text.utf8 where !isTrustDomainCharacter(byte) { throw .badTrustDomainCharacter }
        return text
    }

    /// Checks a path: empty, or `/segment` repeated.
    public static func validatePath(_ path: String) throws(SPIFFEIDError) { try validatePath(Array(path.utf8)[...]) }

    static func validatePath(_ path: ArraySlice<UInt8>) throws(SPIFFEIDError) {
        guard let first = path.first else { return }
        guard first == UInt8(ascii: "/") else { throw .noLeadingSlash }
        var segmentStart = path.startIndex
        for index in path.indices.dropFirst() {
            let byte = path[index]
            if byte == UInt8(ascii: "/") {
                try checkSegmentEnd(path[segmentStart..<index], last: false)
                segmentStart = index
            } else if !isPathCharacter(byte) {
                throw .badPathCharacter
            }
        }
        try checkSegmentEnd(path[segmentStart...], last: true)
    }

    /// `segment` is `/` plus the segment's characters.
    private static func checkSegmentEnd(_ segment: ArraySlice<UInt8>, last: Bool) throws(SPIFFEIDError) {
        switch segment.count {
        case 1: throw last ? .trailingSlash : .emptySegment
        case 2 where segment.last == UInt8(ascii: "."): throw .dotSegment
        case 3 where segment.dropFirst().allSatisfy({ $0 == UInt8(ascii: ".") }): throw .dotSegment
        default: return
        }
    }

    /// Checks one path segment (no slashes).
    public static func validatePathSegment(_ segment: String) throws(SPIFFEIDError) {
        switch segment {
        case "": throw .emptySegment
        case ".", "..": throw .dotSegment
        default:
            for byte in segment.utf8 where !isPathCharacter(byte) { throw .badPathCharacter }
        }
    }

    /// `/a/b` from `["a", "b"]`, each segment checked.
    public static func joinPathSegments(_ segments: [String]) throws(SPIFFEIDError) -> String {
        var path = ""
        for segment in segments {
            try validatePathSegment(segment)
            path += "/" + segment
        }
        return path
    }

    static func isTrustDomainCharacter(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_")
    }

    static func isPathCharacter(_ byte: UInt8) -> Bool {
        isTrustDomainCharacter(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
    }
}
