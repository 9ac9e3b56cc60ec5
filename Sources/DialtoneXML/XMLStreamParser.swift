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


private let libxml2Initialized: Bool = {
    // Not safe to race with first use on another thread, so done once under Swift's lazy global lock.
    xmlInitParser()
    return true
}()

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

private func lastErrorMessage(_ ctxt: xmlParserCtxtPtr) -> String {
    guard let error = xmlCtxtGetLastError(ctxt) else { return "not well-formed" }
    return trimmedMessage(error.pointee.message)
}
