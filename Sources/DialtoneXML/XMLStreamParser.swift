import CLibXML2
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the bytes of one XMPP stream into stream events, on libxml2's SAX2 push parser.
///
/// Not `Sendable`: one connection's actor or event loop owns it. Make a fresh parser at every
/// stream restart (after STARTTLS and after SASL), since a restarted stream is a new document.
public final class XMLStreamParser {
    private let builder: UnsafeMutablePointer<StanzaBuilder>

    /// A connection's 4 KiB reads pass through whole; a huge single feed is cut so that the size
    /// limit is checked, and libxml2's buffer kept small, between pieces.
    private static let pieceSize = 64 * 1024

    public convenience init(limits: XMLStreamLimits = XMLStreamLimits()) {
        self.init(limits: limits, documentMode: false)
    }

    /// In document mode the document element is reported as a `.stanza`, as if an invisible
    /// stream root surrounded it; that is how `XMLElement(parsing:)` reuses this class.
    init(limits: XMLStreamLimits, documentMode: Bool) {
        _ = libxml2Initialized
        // The builder lives at a fixed address because libxml2 hands it back to every callback.
        builder = .allocate(capacity: 1)
        builder.initialize(to: StanzaBuilder(limits: limits, documentMode: documentMode))
        var sax = makeSAXHandler()
        guard let ctxt = xmlCreatePushParserCtxt(&sax, builder, nil, 0, nil) else {
            builder.pointee.failure = .malformed("libxml2 could not create a parser")
            return
        }
        // Options also reset process-wide defaults that another library in the process could
        // have changed (entity substitution, DTD loading). No XML_PARSE_NOENT, no DTDLOAD.
        let options = XML_PARSE_NONET.rawValue | XML_PARSE_IGNORE_ENC.rawValue
        xmlCtxtUseOptions(ctxt, Int32(options))
        builder.pointee.ctxt = ctxt
    }

    deinit {
        if let ctxt = builder.pointee.ctxt { xmlFreeParserCtxt(ctxt) }
        builder.pointee.nodes.release()
        builder.pointee.names.release()
        builder.deinitialize(count: 1)
        builder.deallocate()
    }

    public func feed(_ bytes: UnsafeRawBufferPointer) throws(XMLStreamError) -> [XMLStreamEvent] {
        if let failure = builder.pointee.failure { throw failure }
        guard let ctxt = builder.pointee.ctxt, let base = bytes.baseAddress else { return [] }
        silenceErrorsWithoutAParser()
        var offset = 0
        while offset < bytes.count {
            let count = min(bytes.count - offset, Self.pieceSize)
            builder.pointee.fed += count
            xmlParseChunk(ctxt, (base + offset).assumingMemoryBound(to: CChar.self), Int32(count), 0)
            offset += count
            try checkAfterChunk(ctxt)
        }
        return builder.pointee.takeEvents()
    }

    public func feed(_ bytes: [UInt8]) throws(XMLStreamError) -> [XMLStreamEvent] {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(XMLStreamError) in try feed(buffer) }
        }
        return try result.get()
    }

    public func feed(_ text: String) throws(XMLStreamError) -> [XMLStreamEvent] {
        var text = text
        let result = text.withUTF8 { utf8 in
            Result { () throws(XMLStreamError) in try feed(UnsafeRawBufferPointer(utf8)) }
        }
        return try result.get()
    }

    /// Tells libxml2 the input is complete, so that a truncated document is an error.
    func finish() throws(XMLStreamError) -> [XMLStreamEvent] {
        if let failure = builder.pointee.failure { throw failure }
        guard let ctxt = builder.pointee.ctxt else { return [] }
        silenceErrorsWithoutAParser()
        xmlParseChunk(ctxt, nil, 0, 1)
        try checkAfterChunk(ctxt)
        return builder.pointee.takeEvents()
    }

    private func checkAfterChunk(_ ctxt: xmlParserCtxtPtr) throws(XMLStreamError) {
        builder.pointee.checkSize()
        if builder.pointee.failure == nil && ctxt.pointee.wellFormed == 0 {
            // A fatal error always reaches the structured handler; this is a net for one that did not.
            builder.pointee.failure = .malformed(lastErrorMessage(ctxt))
        }
        if let failure = builder.pointee.failure {
            // Halting frees libxml2's input buffer, and nothing after an error may become an event.
            xmlStopParser(ctxt)
            builder.pointee.events.removeAll()
            throw failure
        }
    }
}

extension XMLElement {
    /// Parses a standalone document (tests, fixtures, stored stanzas). Same limits and refusals
    /// as a stream; the whole document counts as one stanza.
    public init(parsing xml: String) throws(XMLStreamError) {
        try self.init(parsing: xml, limits: XMLStreamLimits())
    }

    public init(parsing xml: String, limits: XMLStreamLimits) throws(XMLStreamError) {
        let parser = XMLStreamParser(limits: limits, documentMode: true)
        var events = try parser.feed(xml)
        events += try parser.finish()
        guard events.count == 1, case .stanza(let element) = events[0] else {
            throw .malformed("expected exactly one root element")
        }
        self = element
    }
}

// MARK: - Building elements from SAX events

private let libxml2Initialized: Bool = {
    // Not safe to race with first use on another thread, so done once under Swift's lazy global lock.
    xmlInitParser()
    return true
}()

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

struct OpenElement {
    var element: XMLElement
    /// Where this element's children start in the node stack.
    var firstChild: Int
}

/// A stack of nodes in manually managed memory, so that a run of them can be moved into a new
/// array without the retain and release per node that copying out of an Array would cost.
struct NodeStack {
    private var base: UnsafeMutablePointer<XMLNode>
    private var capacity = 64
    private(set) var count = 0

    init() {
        base = .allocate(capacity: capacity)
    }

    mutating func push(_ node: consuming XMLNode) {
        if count == capacity {
            let larger = UnsafeMutablePointer<XMLNode>.allocate(capacity: capacity * 2)
            larger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = larger
            capacity *= 2
        }
        (base + count).initialize(to: node)
        count += 1
    }

    /// Moves the nodes from `start` to the top into an array of exactly their number.
    mutating func popArray(from start: Int) -> [XMLNode] {
        let moving = count - start
        if moving == 0 { return [] }
        var array: [XMLNode] = []
        array.reserveCapacity(moving)
        for index in start..<count {
            array.append((base + index).move())
        }
        count = start
        return array
    }

    /// Not a deinit: the stack lives inside a struct that libxml2 reaches by pointer, and its
    /// owner, XMLStreamParser, decides when it dies.
    mutating func release() {
        base.deinitialize(count: count)
        base.deallocate()
        count = 0
        capacity = 0
    }
}

/// Strings for names and namespace URIs, keyed by libxml2's interned pointers.
///
/// libxml2 puts every element name, attribute name and namespace URI in its dictionary, so the
/// same name arrives as the same pointer for the parser's whole life; a pointer compare then
/// replaces decoding and validating the bytes, and long URIs are not allocated again per stanza.
/// Each attribute name also remembers its last value: `from`, `to` and `type` repeat from stanza
/// to stanza, and comparing bytes is cheaper than allocating and validating a new String.
struct NameCache {
    private struct Entry {
        var local: UnsafeRawPointer?
        var prefix: UnsafeRawPointer?
        var string = ""
        var lastValue = ""
    }

    private static let slots = 256
    /// Values longer than this are not remembered, so the memo holds little memory.
    private static let longestRememberedValue = 128
    /// Manually managed like NodeStack, to skip the uniqueness check an Array makes on every write.
    private var table: UnsafeMutablePointer<Entry>

    init() {
        table = .allocate(capacity: Self.slots)
        table.initialize(repeating: Entry(), count: Self.slots)
    }

    mutating func release() {
        table.deinitialize(count: Self.slots)
        table.deallocate()
    }

    /// The entry for this name, filled on a miss, or nil when the pointers are not the
    /// dictionary's and so cannot be trusted to keep meaning the same bytes.
    private mutating func entry(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?, dict: xmlDictPtr?) -> UnsafeMutablePointer<Entry>? {
        let localKey = UnsafeRawPointer(local)
        let prefixKey = prefix.map(UnsafeRawPointer.init)
        let mixed = UInt(bitPattern: localKey) ^ (UInt(bitPattern: prefixKey) &<< 7)
        let entry = table + (Int(truncatingIfNeeded: (mixed &* 0x9E37_79B9_7F4A_7C15) &>> 56) & (Self.slots - 1))
        if entry.pointee.local == localKey && entry.pointee.prefix == prefixKey { return entry }
        guard let dict, xmlDictOwns(dict, local) == 1, prefix.map({ xmlDictOwns(dict, $0) == 1 }) ?? true else { return nil }
        entry.pointee = Entry(local: localKey, prefix: prefixKey, string: Self.makeName(local, prefix: prefix))
        return entry
    }

    private static func makeName(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?) -> String {
        guard let prefix else {
            // Of what comes here only a namespace URI can hold an `&`, and libxml2 leaves each as
            // `&#38;` there as it does in attribute values. (Found by Scripts/fuzz xml.)
            if strchr(UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self), Int32(UInt8(ascii: "&"))) != nil {
                return decodingAmpersands(UnsafeBufferPointer(start: local, count: strlen(UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self))))
            }
            return String(cString: local)
        }
        return String(cString: prefix) + ":" + String(cString: local)
    }

    mutating func string(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?, dict: xmlDictPtr?) -> String {
        entry(local, prefix: prefix, dict: dict)?.pointee.string ?? Self.makeName(local, prefix: prefix)
    }

    /// An attribute whose value has no references left in it (see decodingAmpersands).
    mutating func attribute(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?, dict: xmlDictPtr?,
                            value: UnsafeBufferPointer<UInt8>) -> XMLAttribute {
        guard let entry = entry(local, prefix: prefix, dict: dict) else {
            return XMLAttribute(Self.makeName(local, prefix: prefix), String(decoding: value, as: UTF8.self))
        }
        let remembered = entry.pointee.lastValue.withUTF8 { last in
            last.count == value.count && (value.isEmpty || memcmp(last.baseAddress!, value.baseAddress!, value.count) == 0)
        }
        if !remembered {
            let string = String(decoding: value, as: UTF8.self)
            if value.count > Self.longestRememberedValue { return XMLAttribute(entry.pointee.string, string) }
            entry.pointee.lastValue = string
        }
        return XMLAttribute(entry.pointee.string, entry.pointee.lastValue)
    }
}

// MARK: - libxml2 plumbing

/// libxml2 reports some failures (an encoding conversion that fails on the peer's bytes) without
/// a parser context, on a channel of the calling thread that defaults to writing on stderr: a
/// server's bytes would show through, over the terminal interface. The parser's own errors
/// reach `sax.serror`; these are followed by one of those, or by a failed chunk, so they can be
/// dropped. The channel is per thread, and feeds come from any thread, hence on every feed.
/// (Found by Scripts/fuzz xml.)
private func silenceErrorsWithoutAParser() {
    xmlSetStructuredErrorFunc(nil) { _, _ in }
}

private func builder(_ context: UnsafeMutableRawPointer?) -> UnsafeMutablePointer<StanzaBuilder>? {
    context?.assumingMemoryBound(to: StanzaBuilder.self)
}

/// Everything that could reach a DTD, an entity or the network is a callback that refuses.
private func makeSAXHandler() -> xmlSAXHandler {
    var sax = xmlSAXHandler()
    sax.initialized = UInt32(XML_SAX2_MAGIC)
    sax.startElementNs = { context, localname, prefix, uri, _, _, attributeCount, _, attributes in
        guard let localname else { return }
        builder(context)?.pointee.startElement(
            localname: localname, prefix: prefix, uri: uri,
            attributeCount: Int(attributeCount), attributes: attributes)
    }
    sax.endElementNs = { context, _, _, _ in
        builder(context)?.pointee.endElement()
    }
    sax.characters = { context, bytes, count in
        guard let bytes else { return }
        builder(context)?.pointee.characters(bytes, Int(count))
    }
    sax.ignorableWhitespace = sax.characters
    sax.cdataBlock = sax.characters
    sax.serror = { context, error in
        guard let error else { return }
        builder(context)?.pointee.libxmlError(error.pointee)
    }
    sax.internalSubset = { context, _, _, _ in
        builder(context)?.pointee.fail(.doctypeForbidden, stop: true)
    }
    sax.externalSubset = { context, _, _, _ in
        builder(context)?.pointee.fail(.doctypeForbidden, stop: false)
    }
    sax.elementDecl = { context, _, _, _ in
        builder(context)?.pointee.fail(.doctypeForbidden, stop: false)
    }
    sax.attributeDecl = { context, _, _, _, _, _, tree in
        // libxml2 hands ownership of an enumerated type's values to this callback.
        if let tree { xmlFreeEnumeration(tree) }
        builder(context)?.pointee.fail(.doctypeForbidden, stop: false)
    }
    sax.notationDecl = { context, _, _, _ in
        builder(context)?.pointee.fail(.doctypeForbidden, stop: false)
    }
    sax.entityDecl = { context, _, _, _, _, _ in
        builder(context)?.pointee.fail(.entityForbidden, stop: false)
    }
    sax.unparsedEntityDecl = { context, _, _, _, _ in
        builder(context)?.pointee.fail(.entityForbidden, stop: false)
    }
    sax.getEntity = { context, _ in
        // Only reached for names other than the five predefined entities.
        builder(context)?.pointee.fail(.entityForbidden, stop: true)
        return nil
    }
    sax.getParameterEntity = { context, _ in
        builder(context)?.pointee.fail(.entityForbidden, stop: false)
        return nil
    }
    sax.reference = { context, _ in
        builder(context)?.pointee.fail(.entityForbidden, stop: false)
    }
    sax.resolveEntity = { context, _, _ in
        builder(context)?.pointee.fail(.entityForbidden, stop: false)
        return nil
    }
    sax.processingInstruction = { context, _, _ in
        builder(context)?.pointee.fail(.processingInstructionForbidden, stop: true)
    }
    // Comments are dropped: RFC 6120 forbids sending them but they carry nothing to act on.
    return sax
}

/// Without entity substitution (XML_PARSE_NOENT, which we refuse to turn on) libxml2 hands over
/// every `&` in an attribute value, from `&amp;` or `&#38;`, as the five bytes `&#38;`, meant for
/// its own tree builder to re-parse. Every `&` it leaves is one of those.
private func decodingAmpersands(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
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

private func trimmedMessage(_ message: UnsafeMutablePointer<CChar>?) -> String {
    guard let message else { return "unknown error" }
    var text = Substring(String(cString: message))
    while let last = text.last, last.isWhitespace { text.removeLast() }
    while let first = text.first, first.isWhitespace { text.removeFirst() }
    return text.isEmpty ? "unknown error" : String(text)
}

private func lastErrorMessage(_ ctxt: xmlParserCtxtPtr) -> String {
    guard let error = xmlCtxtGetLastError(ctxt) else { return "not well-formed" }
    return trimmedMessage(error.pointee.message)
}
