import CLibXML2
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// All mutable parsing state, reached from C callbacks through a raw pointer: no retain/release
/// and no dynamic exclusivity checks on the hot path, as a class's stored properties would cost.
struct StanzaBuilder {
    let limits: XMLStreamLimits
    let documentMode: Bool
    var ctxt: xmlParserCtxtPtr?
    /// Open elements, root first, each without children yet. In document mode index 0 is an
    /// invisible stand-in root.
    var open: [OpenElement]
    /// The finished children of all open elements, innermost last. An element's children are
    /// moved out in one exact-size array when it closes, instead of growing an array per element.
    var nodes = NodeStack()
    /// Character data since the last tag, as bytes: libxml2 may split text anywhere (entities,
    /// buffer ends), and one String made at the next tag merges the pieces for free.
    var text: [UInt8] = []
    var events: [XMLStreamEvent] = []
    var failure: XMLStreamError?
    var ended = false
    /// Bytes handed to libxml2 so far.
    var fed = 0
    /// Input offset where the current stanza may begin: after the root start tag, the previous
    /// stanza, or keepalive whitespace.
    var mark = 0
    var names = NameCache()

    init(limits: XMLStreamLimits, documentMode: Bool) {
        self.limits = limits
        self.documentMode = documentMode
        open = documentMode ? [OpenElement(element: XMLElement("", namespace: ""), firstChild: 0)] : []
        open.reserveCapacity(16)
        text.reserveCapacity(1024)
    }

    mutating func takeEvents() -> [XMLStreamEvent] {
        if events.isEmpty { return [] }
        let taken = events
        // The next read is likely to carry as many stanzas as this one.
        events = []
        events.reserveCapacity(taken.count)
        return taken
    }

    mutating func fail(_ error: XMLStreamError, stop: Bool) {
        if failure == nil { failure = error }
        // Only from callbacks after which libxml2 checks for a halted parser; elsewhere feed()
        // stops it once xmlParseChunk has returned.
        if stop, let ctxt { xmlStopParser(ctxt) }
    }

    private var consumed: Int {
        guard let ctxt else { return 0 }
        return xmlByteConsumed(ctxt)
    }

    /// Bounds libxml2's buffering too: it holds a start tag until its `>` arrives, so an endless
    /// tag shows up here rather than in any callback.
    mutating func checkSize() {
        if failure == nil && !ended && fed - mark > limits.maxStanzaBytes {
            fail(.stanzaTooLarge(limit: limits.maxStanzaBytes), stop: false)
        }
    }

    mutating func startElement(
        localname: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?, uri: UnsafePointer<xmlChar>?,
        attributeCount: Int, attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>?
    ) {
        guard failure == nil else { return }
        let depth = open.count
        if depth > limits.maxDepth {
            fail(.tooDeep(limit: limits.maxDepth), stop: true)
            return
        }
        if !text.isEmpty { flushText() }
        let dict = ctxt?.pointee.dict
        // An undeclared prefix leaves no URI; keeping "prefix:name" keeps it visible and round-trips.
        // A name with a second colon (`p:a:b`, not namespace-well-formed) comes with a local name
        // of "a:b" in p's namespace, which no serialization can give back; it is kept whole, with
        // no namespace, like an undeclared prefix. (Found by Scripts/fuzz xml.)
        let qualified = uri == nil
            || strchr(UnsafeRawPointer(localname).assumingMemoryBound(to: CChar.self), Int32(UInt8(ascii: ":"))) != nil
        let name = names.string(localname, prefix: qualified ? prefix : nil, dict: dict)
        let namespace = qualified ? "" : uri.map { names.string($0, prefix: nil, dict: dict) } ?? ""
        var element = XMLElement(name, namespace: namespace)
        if attributeCount > 0, let attributes {
            element.attributes = makeAttributes(attributeCount, attributes, dict: dict)
        }
        if depth == 0 && !documentMode {
            events.append(.streamStart(element))
            open.append(OpenElement(element: element, firstChild: nodes.count))
            // libxml2 reports the root before consuming its closing '>', which is not the stanza's.
            var offset = consumed
            if let input = ctxt?.pointee.input, input.pointee.cur.pointee == UInt8(ascii: ">") { offset += 1 }
            if offset > limits.maxStanzaBytes {
                fail(.stanzaTooLarge(limit: limits.maxStanzaBytes), stop: true)
                return
            }
            mark = offset
        } else {
            open.append(OpenElement(element: element, firstChild: nodes.count))
        }
    }

    private mutating func makeAttributes(
        _ count: Int, _ attributes: UnsafeMutablePointer<UnsafePointer<xmlChar>?>, dict: xmlDictPtr?
    ) -> [XMLAttribute] {
        // SAX2 gives five pointers per attribute: local name, prefix, URI, value start, value end.
        // reserveCapacity + append rather than Array(unsafeUninitializedCapacity:): the latter runs
        // unspecialized in the standard library and looks up the array's type metadata every time.
        var result: [XMLAttribute] = []
        result.reserveCapacity(count)
        for index in 0..<count {
            let fields = attributes + 5 * index
            guard let local = fields[0], let start = fields[3], let end = fields[4] else { break }
            let bytes = UnsafeBufferPointer(start: start, count: end - start)
            if memchr(start, Int32(UInt8(ascii: "&")), bytes.count) != nil {
                result.append(XMLAttribute(names.string(local, prefix: fields[1], dict: dict), decodingAmpersands(bytes)))
            } else {
                result.append(names.attribute(local, prefix: fields[1], dict: dict, value: bytes))
            }
        }
        return result
    }

    mutating func endElement() {
        guard failure == nil else { return }
        if !text.isEmpty { flushText() }
        let closing = open.removeLast()
        var element = closing.element
        element.children = nodes.popArray(from: closing.firstChild)
        let depth = open.count
        if depth >= 2 {
            nodes.push(.element(element))
        } else if depth == 1 {
            let end = consumed
            if end - mark > limits.maxStanzaBytes {
                fail(.stanzaTooLarge(limit: limits.maxStanzaBytes), stop: true)
                return
            }
            mark = end
            events.append(.stanza(element))
        } else {
            ended = true
            events.append(.streamEnd)
        }
    }

    mutating func characters(_ bytes: UnsafePointer<xmlChar>, _ count: Int) {
        guard failure == nil else { return }
        if open.count >= 2 {
            text.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
        } else if open.count == 1 {
            // Whitespace keepalives between stanzas: no event, and not part of the next stanza.
            mark = consumed
        }
    }

    private mutating func flushText() {
        let string = String(decoding: text, as: UTF8.self)
        // Keep the buffer for the next text, unless one huge text would pin it for the stream's life.
        text.removeAll(keepingCapacity: text.count <= 64 * 1024)
        nodes.push(.text(string))
    }

    mutating func libxmlError(_ error: xmlError) {
        guard failure == nil else { return }
        let level = error.level
        // Namespace errors (an undeclared prefix) are recoverable and harmless to XMPP: the
        // element keeps its prefixed name and no namespace, which nothing will match.
        let fatal = level == XML_ERR_FATAL
            || (level == XML_ERR_ERROR && error.domain != Int32(XML_FROM_NAMESPACE.rawValue))
        guard fatal else { return }
        fail(.malformed(trimmedMessage(error.message)), stop: false)
    }
}


/// Without entity substitution (XML_PARSE_NOENT, which we refuse to turn on) libxml2 hands over
/// every `&` in an attribute value, from `&amp;` or `&#38;`, as the five bytes `&#38;`, meant for
/// its own tree builder to re-parse. Every `&` it leaves is one of those.
func decodingAmpersands(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
    let reference = Array("&#38;".utf8)
    var decoded: [UInt8] = []
    decoded.reserveCapacity(bytes.count)
    var index = 0
    while index < bytes.count {
        decoded.append(bytes[index])
        if bytes[index] == UInt8(ascii: "&") && bytes[index...].starts(with: reference) {
            index += reference.count
        } else {
            index += 1
        }
    }
    return String(decoding: decoded, as: UTF8.self)
}

func trimmedMessage(_ message: UnsafeMutablePointer<CChar>?) -> String {
    guard let message else { return "unknown error" }
    var text = Substring(String(cString: message))
    while let last = text.last, last.isWhitespace { text.removeLast() }
    while let first = text.first, first.isWhitespace { text.removeFirst() }
    return text.isEmpty ? "unknown error" : String(text)
}
