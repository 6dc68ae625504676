import EventStore
import Projections
import Testing

struct Inner: Codable, Equatable {
    var weight: Double
    var tags: [String]
    var note: String?
}

struct Outer: Codable, Equatable {
    var name: String
    var count: UInt64
    var small: Int8
    var flag: Bool
    var byKey: [String: Inner]
    var byNumber: [Int: String]
    var raw: EventValue
    var missing: Int?
}

@Suite("State encoding: deterministic CBOR through Codable")
struct StateCodingTests {
    let sample = Outer(name: "breaker/route:api", count: 42, small: -3, flag: true,
                       byKey: ["b": Inner(weight: 0.5, tags: ["x", "y"], note: nil), "a": Inner(weight: 2, tags: [], note: "n")],
                       byNumber: [3: "three", 1: "one"], raw: ["k": [1, "two", .null]], missing: nil)

    @Test("a state survives encoding and decoding unchanged")
    func roundTrip() throws {
        let bytes = try EventValueEncoder().encodeCBOR(sample)
        #expect(try EventValueDecoder().decode(Outer.self, fromCBOR: bytes) == sample)
    }

    @Test("equal states encode to identical bytes whatever order their dictionaries were filled in")
    func deterministic() throws {
        var other = Outer(name: sample.name, count: 42, small: -3, flag: true, byKey: [:], byNumber: [:], raw: sample.raw, missing: nil)
        other.byNumber[1] = "one"
        other.byNumber[3] = "three"
        other.byKey["a"] = sample.byKey["a"]
        other.byKey["b"] = sample.byKey["b"]
        #expect(try EventValueEncoder().encodeCBOR(other) == EventValueEncoder().encodeCBOR(sample))
        // nil optionals are left out rather than written as null.
        #expect(try EventValueEncoder().encode(sample)["missing"] == nil)
    }

    @Test("values the log cannot hold exactly are refused with an error, not rounded")
    func refusals() {
        #expect(throws: EncodingError.self) { try EventValueEncoder().encode(["big": UInt64.max]) }
        #expect(throws: EncodingError.self) { try EventValueEncoder().encode(["nan": Double.nan]) }
    }

    @Test("malformed or mistyped bytes are a decoding error naming the field")
    func badInput() throws {
        #expect(throws: CBORError.self) { try EventValueDecoder().decode(Outer.self, fromCBOR: [0xa1, 0x61]) }
        let wrong = CBORWriter.encode(["name": 5])
        do {
            _ = try EventValueDecoder().decode(Outer.self, fromCBOR: wrong)
            Issue.record("decoding a mistyped state succeeded")
        } catch let error as DecodingError {
            #expect("\(error)".contains("name"))
        }
        // Out-of-range integers are refused, not truncated.
        #expect(throws: DecodingError.self) { try EventValueDecoder().decode([String: Int8].self, from: ["x": 300]) }
    }
}

@Suite("Structural diff between two states")
struct StateDiffTests {
    @Test("added, removed and changed leaves are listed by JSON Pointer path with old and new values")
    func diff() {
        let old: EventValue = ["types": ["a.b": 1, "gone": 2], "list": [1, 2, 3], "route/x": "A", "same": 1]
        let new: EventValue = ["types": ["a.b": 2, "new": 1], "list": [1, 5], "route/x": "C", "same": 1]
        let changes = StateDiff.between(old, new)
        #expect(changes == [
            StateChange(path: "/list/1", kind: .changed, old: 2, new: 5),
            StateChange(path: "/list/2", kind: .removed, old: 3, new: nil),
            StateChange(path: "/route~1x", kind: .changed, old: "A", new: "C"),
            StateChange(path: "/types/a.b", kind: .changed, old: 1, new: 2),
            StateChange(path: "/types/gone", kind: .removed, old: 2, new: nil),
            StateChange(path: "/types/new", kind: .added, old: nil, new: 1),
        ])
        #expect(StateDiff.between(old, old).isEmpty)
    }
}
