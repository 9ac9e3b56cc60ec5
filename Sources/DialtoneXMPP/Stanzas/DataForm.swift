import DialtoneXML
import Foundation

/// A XEP-0004 data form (`jabber:x:data`): what a bot asks (form), tells (result) or gets back
/// (submit). Value types only; the front end edits `values` and submits.
public struct DataForm: Sendable, Equatable {
    public var type: String
    public var title: String?
    public var instructions: [String]
    public var fields: [DataFormField]
    /// A result table: the columns, then one row of fields per item.
    public var reported: [DataFormField]
    public var items: [[DataFormField]]

    public init(type: String, title: String? = nil, instructions: [String] = [], fields: [DataFormField] = [],
                reported: [DataFormField] = [], items: [[DataFormField]] = []) {
        self.type = type
        self.title = title
        self.instructions = instructions
        self.fields = fields
        self.reported = reported
        self.items = items
    }

    public init?(_ element: XMLElement) {
        guard element.name == "x", element.namespace == Namespace.dataForms else { return nil }
        type = element[attribute: "type"] ?? "form"
        title = element.childText("title", namespace: Namespace.dataForms)
        instructions = element.children("instructions", namespace: Namespace.dataForms).map(\.text)
        fields = element.children("field", namespace: Namespace.dataForms).map(DataFormField.init)
        reported = element.child("reported", namespace: Namespace.dataForms)?.children("field", namespace: Namespace.dataForms)
            .map(DataFormField.init) ?? []
        items = element.children("item", namespace: Namespace.dataForms).map { $0.children("field", namespace: Namespace.dataForms).map(DataFormField.init) }
    }

    /// The form to send back: type submit, every field but `fixed` with its current values.
    public var submission: XMLElement {
        var x = XMLElement("x", namespace: Namespace.dataForms, attributes: [XMLAttribute("type", "submit")])
        for field in fields where field.type != "fixed" && field.variable != nil {
            var element = XMLElement("field", namespace: Namespace.dataForms, attributes: ["var": field.variable, "type": field.type])
            for value in field.values { element.append(.textElement("value", namespace: Namespace.dataForms, value)) }
            x.append(element)
        }
        return x
    }

    public func field(_ variable: String) -> DataFormField? { fields.first { $0.variable == variable } }
}

public struct DataFormField: Sendable, Equatable {
    public struct Option: Sendable, Equatable {
        public var label: String?
        public var value: String
    }

    public var variable: String?
    /// text-single when absent (XEP-0004 3.3).
    public var type: String
    public var label: String?
    public var description: String?
    public var required: Bool
    public var values: [String]
    public var options: [Option]

    public init(variable: String?, type: String = "text-single", label: String? = nil, values: [String] = [],
                options: [Option] = [], required: Bool = false, description: String? = nil) {
        self.variable = variable
        self.type = type
        self.label = label
        self.values = values
        self.options = options
        self.required = required
        self.description = description
    }

    init(_ element: XMLElement) {
        variable = element[attribute: "var"]
        type = element[attribute: "type"] ?? "text-single"
        label = element[attribute: "label"]
        description = element.childText("desc", namespace: Namespace.dataForms)
        required = element.child("required", namespace: Namespace.dataForms) != nil
        values = element.children("value", namespace: Namespace.dataForms).map(\.text)
        options = element.children("option", namespace: Namespace.dataForms).compactMap { option in
            guard let value = option.childText("value", namespace: Namespace.dataForms) else { return nil }
            return Option(label: option[attribute: "label"], value: value)
        }
    }

    /// Sets the field from what a person typed: booleans from yes/no/on/off/1/0, list choices
    /// by value, label or number, several values separated by commas (newlines for text-multi).
    public mutating func set(from text: String) throws(DataFormError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        switch type {
        case "fixed":
            throw .notEditable
        case "boolean":
            switch trimmed.lowercased() {
            case "1", "true", "yes", "on", "y": values = ["1"]
            case "0", "false", "no", "off", "n": values = ["0"]
            default: throw .notBoolean(trimmed)
            }
        case "list-single":
            values = [try choose(trimmed)]
        case "list-multi":
            values = try trimmed.split(separator: ",").map { piece throws(DataFormError) in try choose(piece.trimmingCharacters(in: .whitespaces)) }
        case "jid-multi":
            values = trimmed.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        case "text-multi":
            values = text.components(separatedBy: "\n")
        default:
            values = trimmed.isEmpty ? [] : [trimmed]
        }
    }

    private func choose(_ text: String) throws(DataFormError) -> String {
        if let number = Int(text), options.indices.contains(number - 1) { return options[number - 1].value }
        if let option = options.first(where: { $0.value == text || $0.label?.lowercased() == text.lowercased() }) { return option.value }
        if options.isEmpty { return text }
        throw .notAnOption(text, options.map { $0.label ?? $0.value })
    }
}

public enum DataFormError: Error, Sendable, Equatable, CustomStringConvertible {
    case notEditable
    case notBoolean(String)
    case notAnOption(String, [String])

    public var description: String {
        switch self {
        case .notEditable: "That field is only text to read."
        case .notBoolean(let text): "\"\(text)\" is not yes or no."
        case .notAnOption(let text, let options): "\"\(text)\" is not one of: \(options.joined(separator: ", "))."
        }
    }
}
