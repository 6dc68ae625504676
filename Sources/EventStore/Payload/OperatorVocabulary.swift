/// The operators' events of EVENTS.md, which need no domain: `operator.note` {text, author?}.
public struct OperatorVocabulary: EventVocabulary {
    public static let note = "operator.note"

    public init() {}

    public func validate(type: String, data: EventValue) throws(PayloadError) {
        guard type == Self.note else { return }
        let d = try PayloadReader(data)
        _ = try d.text("text")
        _ = try d.optionalString("author")
    }
}
