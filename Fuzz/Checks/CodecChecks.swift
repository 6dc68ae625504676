@_spi(Fuzzing) import EventStore
import Policies
import Healing

extension FuzzCheck {
    /// A line of `recoveryctl import`: strict JSON, the envelope, then the checks of an append
    /// (with the healing vocabulary). Whatever parses must print and parse back to itself.
    public static let importLine = FuzzCheck(name: "import-line", check: { bytes throws(FuzzFinding) in
        guard let value = try? JSONParser.parse(bytes) else { return }
        let printed = JSONWriter.encode(value)
        guard let again = try? JSONParser.parse(printed) else { throw FuzzFinding("JSON printed from a parsed value does not parse: \(printed)") }
        try require(again.canonical == value.canonical, "JSON round trip changed the value: \(printed)")
        guard let event = try? Envelope.newEvent(from: value) else { return }
        do throws(StoreError) { try EventStore.validate([event], vocabularies: [OperatorVocabulary(), HealingVocabulary()]) } catch {
            // Refusals are expected; they must be the typed refusals of bad input.
            try require(error.isBadInput, "an import line was refused as if the store were at fault: \(error)")
        }
    }, seeds: {
        [#"{"type":"action.started","stream":"action/x","data":{"action":"a1","attempt":1,"window_s":60,"limiter":"x","breaker":"y"}}"#,
         #"{"type":"action.started","stream":"action/x","data":{"action":"a1","window_s":9223372036854775807,"limiter":"x","breaker":"y"}}"#,
         #"{"id":"n:1:0","time":"2026-11-29T06:08:00.5Z","hlc":{"wall":1795932480000000,"logical":0},"node":"n","stream":"s/1","type":"operator.note","tags":{"a":"b"},"data":{"text":"x","n":[1,2.5,-0.0,true,null]},"causation":"c","correlation":"k"}"#,
         #"{"type":"topology.declared","stream":"topology/mesh","data":{"routes":{"api":"a"},"replicas":{"api":3},"regions":{"api":"eu"},"quarantined":["n1"]}}"#,
         #"{"type":"action.succeeded","stream":"action/a","data":{"action":"a","attempt":1,"duration_ms":5,"effect":{"kind":"scale","params":{"service":"api","from":1,"to":2}}}}"#,
         #"{"type":"symptom.detected","stream":"node/n","time":"2262-04-11T23:47:16.9Z","data":{"symptom":"s","metric":"m","value":1e308,"threshold":0.5}}"#,
        ].map { Array($0.utf8) }
    })

    /// Lines of an exported slice (`verify --export`): each read back into its event and
    /// checked against its hash and the line before. Never a crash; a slice that verifies
    /// prints back to the same lines. The same bytes as a signature file (`FILE.sig`) or a
    /// backup manifest read back to themselves when they read at all.
    public static let exportLine = FuzzCheck(name: "export-line", check: { bytes throws(FuzzFinding) in
        if let manifest = try? BackupManifest(json: bytes) {
            try require((try? BackupManifest(json: Array(manifest.json.utf8))) == manifest, "a backup manifest changed on its way back")
        }
        if let signature = try? ExportSignature(json: bytes) {
            try require((try? ExportSignature(json: Array(signature.json.utf8))) == signature, "a signature changed on its way back")
        }
        var verifier = ExportVerifier()
        let lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
        for line in lines { verifier.check(line: line) }
        guard verifier.ok else { return }
        for line in lines where !line.isEmpty {
            guard let value = try? JSONParser.parse(line), let event = try? Envelope.event(from: value) else { throw FuzzFinding("a verified line does not read back") }
            let printed = Array(Envelope.json(event).utf8)
            guard let again = try? Envelope.event(from: JSONParser.parse(printed)) else { throw FuzzFinding("a printed event does not parse: \(printed)") }
            try require(again == event, "an exported event changed on its way back")
        }
    }, seeds: {
        [#"{"seq":2,"id":"agent-1:1795932000000000:1","time":"2026-11-29T06:00:00.000000000Z","hlc":{"wall":1795932000000000,"logical":1},"node":"agent-1","stream":"mapek/agent-1","version":1,"type":"mapek.cycle","tags":{},"data":{"cycle":1,"actions":0,"plan_ms":0,"symptoms":0,"analyze_ms":0,"execute_ms":0,"monitor_ms":0},"prev":"24b6146b03369195affcb6301fe5a23447979e56437f8b078bd0b95643f7664b","hash":"f9ef62a47c50e4badb2c81614682af187783050e3288d904d0e53dc64dd0c52d"}"#,
         #"{"seq":2,"id":"agent-1:1795932000000000:1","time":"2026-11-29T06:00:00.000000000Z","hlc":{"wall":1795932000000000,"logical":1},"node":"agent-1","stream":"mapek/agent-1","version":1,"type":"mapek.cycle","tags":{},"data":{"cycle":1,"actions":0,"plan_ms":0,"symptoms":0,"analyze_ms":0,"execute_ms":0,"monitor_ms":0},"prev":"24b6146b03369195affcb6301fe5a23447979e56437f8b078bd0b95643f7664b","hash":"f9ef62a47c50e4badb2c81614682af187783050e3288d904d0e53dc64dd0c52d"}"# + "\n" + #"{"seq":2,"id":"agent-1:1795932000000000:1","time":"2026-11-29T06:00:00.000000000Z","hlc":{"wall":1795932000000000,"logical":1},"node":"agent-1","stream":"mapek/agent-1","version":1,"type":"mapek.cycle","tags":{},"data":{"cycle":1,"actions":0,"plan_ms":0,"symptoms":0,"analyze_ms":0,"execute_ms":0,"monitor_ms":0},"prev":"24b6146b03369195affcb6301fe5a23447979e56437f8b078bd0b95643f7664b","hash":"f9ef62a47c50e4badb2c81614682af187783050e3288d904d0e53dc64dd0c52d"}"#,
         #"{"seq":2,"id":"agent-1:1795932000000000:1","time":"2026-11-29T06:00:00.000000000Z","hlc":{"wall":1795932000000000,"logical":1},"node":"agent-1","stream":"mapek/agent-1","version":1,"type":"mapek.cycle","tags":{},"data":{"cycle":2,"actions":0,"plan_ms":0,"symptoms":0,"analyze_ms":0,"execute_ms":0,"monitor_ms":0},"prev":"24b6146b03369195affcb6301fe5a23447979e56437f8b078bd0b95643f7664b","hash":"f9ef62a47c50e4badb2c81614682af187783050e3288d904d0e53dc64dd0c52d"}"#,
         #"{"head":"227:aba584ea9a91099e86c6b79a190304b68dc5f41284c15d5bc24ffc7b8e6cb49a","format":"recovery-export-signature","sha256":"83a4fb17bd759441d38cc772b95009ee1dd3852b3585ac4fc70d09b10022ac5b","version":1,"algorithm":"ed25519","signature":"EAM3RFySH2FV9bn6QosxMqFVtHH8xLUxbxM12UJ5jskNamMN8korBQxCIDvAFIX+6EOqnBP3jBLqz2V4jQEVAg=="}"#,
         #"{"format":"recovery-backup","created":"2026-12-05T06:20:47.779196367Z","node_id":"agent-1","version":1,"head_seq":227,"head_hash":"aba584ea9a91099e86c6b79a190304b68dc5f41284c15d5bc24ffc7b8e6cb49a","replica_id":"sim-1","data_sha256":"d05a1c820bde07ade64ba723024968cb9c43c535bdff389de9e46ee90fd30514"}"#].map { Array($0.utf8) }
    })

    /// The CBOR value decoder: what decodes re-encodes to canonical bytes, which decode to the
    /// same value and encode to themselves.
    public static let cbor = FuzzCheck(name: "cbor", check: { bytes throws(FuzzFinding) in
        guard let value = try? CBORReader.decode(bytes) else { return }
        let canonical = value.canonical
        guard let again = try? CBORReader.decode(canonical) else { throw FuzzFinding("canonical bytes of a decoded value do not decode: \(canonical)") }
        try require(again.canonical == canonical, "canonical bytes are not a fixed point: \(canonical)")
    }, seeds: {
        let values: [EventValue] = [
            ["zeta": 1, "a": "x", "bb": [1.5, true, nil], "ccc": ["n": -3]], .int(.max), .int(.min), 65504.0, 5.960464477539063e-8,
            1.1, .double(.nan), .bytes([1, 2, 3]), "\u{6c34}", .array((1...25).map { .int($0) }),
        ]
        // Non-canonical forms too: an indefinite-free long head for a small number, a float64 one.
        return values.map(\.canonical) + [[0x1b, 0, 0, 0, 0, 0, 0, 0, 1], [0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0], [0xa2, 0x61, 0x62, 1, 0x61, 0x61, 2]]
    })

    /// A stored record: the in-place reader and the key-by-key reader agree on every input
    /// (the same event or the same error), and a decoded record encodes and decodes back.
    public static let record = FuzzCheck(name: "record", check: { bytes throws(FuzzFinding) in
        let fast = RecordReaders.decode(bytes, seq: 1, straightThrough: true)
        let slow = RecordReaders.decode(bytes, seq: 1, straightThrough: false)
        switch (fast, slow) {
        case (.success(let a), .success(let b)):
            try require(same(a, b), "the readers disagree: \(a) versus \(b)")
            guard let encoded = try? RecordReaders.encode(a) else { throw FuzzFinding("a decoded record does not encode: \(a)") }
            guard case .success(let again) = RecordReaders.decode(encoded, seq: 1, straightThrough: true) else {
                throw FuzzFinding("a re-encoded record does not decode: \(a)")
            }
            // The stored hash is the input's; the re-encoded record carries the recomputed one.
            var expected = a
            expected.hash = again.hash
            try require(same(again, expected), "record round trip changed \(a)")
        case (.failure(let a), .failure(let b)):
            try require(a.description == b.description, "the readers fail differently: \(a) versus \(b)")
        default:
            throw FuzzFinding("one reader accepts what the other refuses: \(fast) versus \(slow)")
        }
    }, seeds: {
        let events = [
            Event(seq: 1, stream: "action/a-1", type: "action.started", data: ["action": "a-1", "attempt": 1], id: "node-a:1:0",
                  time: Timestamp(nanoseconds: 1_795_932_480_000_000_000), hlc: HLC(wall: 1_795_932_480_000_000, logical: 0),
                  node: "node-a", tags: ["service": "api"], causation: "node-a:0:0", correlation: "incident-1"),
            Event(seq: 1, stream: "s", type: "t", data: ["deep": [[1.5, nil, .bytes([0])]]], id: "x", node: "n"),
        ]
        return events.compactMap { try? RecordReaders.encode($0) }
    })

    /// The list of archived ranges a store keeps in its meta (store bytes, which may be corrupt):
    /// a typed error or marks that encode back to the same list.
    public static let archiveMarks = FuzzCheck(name: "archive-marks", check: { bytes throws(FuzzFinding) in
        guard let marks = try? ArchiveMark.list(bytes) else { return }
        let again = try? ArchiveMark.list(ArchiveMark.encode(marks))
        try require(again == marks, "archive marks do not read back the same after encoding")
        for (index, mark) in marks.enumerated() {
            try require(mark.firstSeq >= 1 && mark.throughSeq >= mark.firstSeq, "mark \(index) has an empty or inverted range")
        }
    }, seeds: {
        let digest = String(repeating: "ab", count: 32)
        return ["[]", "[{\"first\":1,\"through\":10,\"hash\":\"\(digest)\",\"location\":\"/a/segment.jsonl\",\"sha256\":\"\(digest)\",\"time\":\"2026-12-05T08:00:00Z\"}]",
                "[{\"first\":1,\"through\":10,\"hash\":\"\(digest)\",\"location\":\"a\",\"sha256\":\"\(digest)\",\"time\":\"2026-12-05T08:00:00Z\"},{\"first\":12,\"through\":20,\"hash\":\"\(digest)\",\"location\":\"b\",\"sha256\":\"\(digest)\",\"time\":\"2026-12-05T08:00:00Z\"}]",
                "{\"first\":0}"].map { Array($0.utf8) }
    })

    /// A policy document (`policy publish`, `policy.published` from a peer): a typed error
    /// naming paths, or a document that publishes back to itself and evaluates without trapping.
    public static let policyDocument = FuzzCheck(name: "policy-document", check: { bytes throws(FuzzFinding) in
        let document: PolicyDocument
        do throws(DocumentErrors) { document = try PolicyDocument(json: bytes) } catch {
            try require(!error.errors.isEmpty && error.errors.allSatisfy { $0.path.hasPrefix("$") }, "a refusal without a path: \(error)")
            return
        }
        let again = try? PolicyDocument(json: Array(JSONWriter.encode(document.source).utf8))
        try require(again == document, "the document does not read back the same from its canonical JSON")
        let input = PolicyInput.action(id: "a", kind: "scale", target: "service/api", labels: ["to": "3"], correlation: nil, incidentActions: 0,
                                       at: Timestamp(nanoseconds: 1_795_932_480_000_000_000))
        let decision = RuleEvaluator().decide(input, document)
        try require(decision.rule == "default" || document.rules.contains { $0.id == decision.rule }, "decided by a rule the document lacks")
    }, seeds: {
        [#"{"policy":"p","rules":[{"id":"a","effect":"allow","when":{"subject":"action","target":"service/*","labels":{"to":"?"}}}]}"#,
         #"{"policy":"p","rules":[{"id":"d","effect":"deny","when":{"kind":["scale"],"time":{"days":["fri"],"from":"23:00","to":"01:00"},"incident":{"min_actions":3}}}]}"#,
         #"{"policy":"p","rules":[{"id":"x","effect":"maybe","when":{"kind":["fly"]}}],"extra":true}"#,
         #"{"policy":"p","rules":[{"id":"peer","effect":"allow","when":{"subject":"peer","spiffe_id":"spiffe://a/*","verdict":["trusted"],"operation":["sync"]}}]}"#]
            .map { Array($0.utf8) }
    })

    /// A runbook document (`runbook publish`, `runbook.published` from a peer): a typed error
    /// naming paths, or a runbook that reads back the same and plans without trapping.
    public static let runbookDocument = FuzzCheck(name: "runbook-document", check: { bytes throws(FuzzFinding) in
        let runbook: RunbookDocument
        do throws(DocumentErrors) { runbook = try RunbookDocument(json: bytes) } catch {
            try require(!error.errors.isEmpty && error.errors.allSatisfy { $0.path.hasPrefix("$") }, "a refusal without a path: \(error)")
            return
        }
        let again = try? RunbookDocument(json: Array(JSONWriter.encode(runbook.source).utf8))
        try require(again == runbook, "the runbook does not read back the same from its canonical JSON")
        try require(!runbook.steps.isEmpty && runbook.steps.count <= 32, "\(runbook.steps.count) steps")
        let scope: [String: EventValue] = ["symptom": "s", "service": "api", "node": "n", "value": 0.5, "region": "a", "next_region": "b",
                                           "replicas": .int(Int64.max), "route": "r", "next_route": "q"]
        for step in runbook.steps {
            for case .string(let text) in step.params.values { _ = RunbookTemplate.render(text, scope: scope) }
        }
    }, seeds: {
        [#"{"runbook":"r","match":{"symptom":"high_error_rate","labels":{"service":"svc-*"},"threshold":{"above":0.5}},"steps":[{"action":"scale","params":{"service":"{{service}}","from":"{{replicas}}","to":"{{replicas+1}}"},"on_failure":"rollback"}],"limits":{"max_concurrent":2,"cooldown_s":60}}"#,
         #"{"runbook":"r","match":{"symptom":"node_unavailable","on":"cleared","node_quarantined":true},"steps":[{"action":"release","params":{"node":"{{node}}"}}],"tests":[{"name":"t","symptom":"node_unavailable","node":"a","topology":{"quarantined":["a"]},"expect":[{"kind":"release","params":{"node":"a"}}]}]}"#,
         #"{"runbook":"bad name","match":{},"steps":[{"action":"fly","params":{"x":"{{nope}}"}}]}"#]
            .map { Array($0.utf8) }
    })

    /// An answer from OPA's Data API: a decision, allowed only for a boolean `allow` in a result.
    public static let opaAnswer = FuzzCheck(name: "opa-answer", check: { bytes throws(FuzzFinding) in
        let decision = OPAEvaluator.decision(fromAnswer: bytes)
        if decision.allowed {
            guard let value = try? JSONParser.parse(bytes), case .bool(true)? = value["result"]?["allow"] else {
                throw FuzzFinding("allowed by an answer whose result.allow is not true")
            }
        } else {
            try require(decision.rule.count <= 128, "a rule name of \(decision.rule.count) characters")
        }
    }, seeds: {
        [#"{"result":{"allow":true,"rule":"heal-services"}}"#, #"{"result":{"allow":false,"rule":"default"}}"#, "{}", #"{"result":{"allow":"yes"}}"#, "not json"]
            .map { Array($0.utf8) }
    })

    /// A time given on the command line.
    public static let timeArgument = FuzzCheck(name: "time-argument", check: { bytes throws(FuzzFinding) in
        guard let text = String(validating: bytes, as: UTF8.self) else { return }
        let now = Timestamp(nanoseconds: 1_795_932_480_000_000_000)
        guard let time = try? Timestamp.parse(argument: text, now: now) else { return }
        if Timestamp(rfc3339: text) != nil {
            try require(Timestamp(rfc3339: time.rfc3339) == time, "\(text) prints as \(time.rfc3339), which reads back differently")
        } else {
            try require(time <= now, "a relative time '\(text)' lies in the future")
        }
    }, seeds: {
        ["2026-11-29T06:08:19.123456789Z", "2262-04-11T23:47:16.854775807Z", "1677-09-21T00:12:43.145224192Z", "2026-11-29T06:08:19+05:30",
         "-15m", "-99999999999d", "-106751d"].map { Array($0.utf8) }
    })
}

/// Events equal field by field, payloads compared by their canonical bytes (NaN equals NaN).
func same(_ a: Event, _ b: Event) -> Bool {
    var a = a, b = b
    let (dataA, dataB) = (a.data.canonical, b.data.canonical)
    a.data = .null
    b.data = .null
    return a == b && dataA == dataB
}
