/// One element of an XMPP stream: a stanza or anything inside it.
///
/// A value type so that stanzas can cross actors freely. `namespace` is the resolved
/// namespace URI (never a prefix); the serializer writes `xmlns` only where it differs
/// from the parent's, so a stanza in `jabber:client` serializes without one.
public struct XMLElement: Sendable, Hashable {
    public var name: String
    public var namespace: String
    /// In document order. Namespace declarations are not attributes; prefixed attributes
    /// other than `xml:lang` are kept with their qualified name (`xml:lang`, …).
    public var attributes: [XMLAttribute]
    public var children: [XMLNode]

    public init(_ name: String, namespace: String, attributes: [XMLAttribute] = [], children: [XMLNode] = []) {
        self.name = name
        self.namespace = namespace
        self.attributes = attributes
        self.children = children
    }

    public init(_ name: String, namespace: String, attributes: KeyValuePairs<String, String?>, children: [XMLNode] = []) {
        self.init(name, namespace: namespace,
                  attributes: attributes.compactMap { key, value in value.map { XMLAttribute(key, $0) } },
                  children: children)
    }

    public subscript(attribute name: String) -> String? {
        get { attributes.first { $0.name == name }?.value }
        set {
            if let index = attributes.firstIndex(where: { $0.name == name }) {
                if let newValue { attributes[index].value = newValue } else { attributes.remove(at: index) }
            } else if let newValue {
                attributes.append(XMLAttribute(name, newValue))
            }
        }
    }

    public var elements: [XMLElement] {
        children.compactMap { if case .element(let element) = $0 { element } else { nil } }
    }

    /// The first child element with this name (and namespace, when given).
    public func child(_ name: String, namespace: String? = nil) -> XMLElement? {
        for case .element(let element) in children where element.name == name && (namespace == nil || element.namespace == namespace) {
            return element
        }
        return nil
    }

    public func children(_ name: String, namespace: String? = nil) -> [XMLElement] {
        elements.filter { $0.name == name && (namespace == nil || $0.namespace == namespace) }
    }

    /// The first child element in this namespace, whatever its name (payload look-ups).
    public func child(in namespace: String) -> XMLElement? {
        elements.first { $0.namespace == namespace }
    }

    /// The concatenated character data directly inside this element.
    public var text: String {
        var result = ""
        for case .text(let text) in children { result += text }
        return result
    }

    /// The text of the first child element with this name, if there is one.
    public func childText(_ name: String, namespace: String? = nil) -> String? {
        child(name, namespace: namespace)?.text
    }

    public mutating func append(_ element: XMLElement) { children.append(.element(element)) }
    public mutating func append(text: String) { children.append(.text(text)) }

    public func appending(_ element: XMLElement) -> XMLElement {
        var copy = self
        copy.append(element)
        return copy
    }
}

public struct XMLAttribute: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public enum XMLNode: Sendable, Hashable {
    case element(XMLElement)
    case text(String)
}

extension XMLElement {
    /// A text-only child: `XMLElement.textElement("body", namespace: ns, "hi")`.
    public static func textElement(_ name: String, namespace: String, _ text: String, attributes: [XMLAttribute] = []) -> XMLElement {
        XMLElement(name, namespace: namespace, attributes: attributes, children: [.text(text)])
    }
}
