import Trust

extension FuzzCheck {
    /// SPIFFE IDs: whatever parses prints back to the same text, parses again to the same ID,
    /// and its trust domain and path pass their own checks.
    public static let spiffeID = FuzzCheck(name: "spiffe-id", check: { bytes throws(FuzzFinding) in
        let text = String(decoding: bytes, as: UTF8.self)
        _ = try? SPIFFEID.trustDomain(parsing: text)
        guard let id = try? SPIFFEID(parsing: text) else { return }
        try require(id.description == text, "\(text.debugDescription) printed as \(id.description.debugDescription)")
        try require((try? SPIFFEID(parsing: id.description)) == id, "\(text.debugDescription) does not parse back")
        try require((try? SPIFFEID.trustDomain(parsing: id.trustDomain)) == id.trustDomain, "trust domain of \(text.debugDescription) refused alone")
        try require((try? SPIFFEID.validatePath(id.path)) != nil, "path of \(text.debugDescription) refused alone")
    }, seeds: {
        ["spiffe://example.org/ns/prod/sa/api", "spiffe://example.org", "spiffe://td/a/./b", "spiffe://TD/a", "spiffe:/td/a",
         "spiffe://td/a?q", "spiffe://td//a", "spiffe://td/a/", "spiffe://td:443/a", "spiffe://u@td/a", "spiffe://t\u{0}d/a",
        ].map { Array($0.utf8) }
    })
}
