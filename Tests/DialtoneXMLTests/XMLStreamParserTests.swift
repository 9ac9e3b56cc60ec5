import XCTest
import Foundation
@testable import DialtoneXML

let streamsNS = "http://etherx.jabber.org/streams"
let clientNS = "jabber:client"

let clientHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' id='c2s-7f3a' from='capulet.example' version='1.0' xml:lang='en'>"

/// A server's side of a session after STARTTLS and SASL, with the things a real one sends:
/// features, keepalive whitespace, non-ASCII text, entities, nested namespaces.
let realisticStream = clientHeader + """

<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><required/></bind>\
<mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism></mechanisms>\
<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='http://prosody.im' ver='Tn/Rb+9q='/></stream:features>
 \t
<iq type='result' id='bind-1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>juliet@capulet.example/balcony</jid></bind></iq>\
<message from='romeo@montague.example/orchard' to='juliet@capulet.example/balcony' type='chat' id='m1' xml:lang='de'>\
<body>Grüße &amp; Küsse 🌹 &lt;3 — 日本語</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>
<presence from='nurse@capulet.example/kitchen'><show>away</show><status>Making tea</status></presence>  \
</stream:stream>
"""

func expectedRealisticEvents() -> [XMLStreamEvent] {
    let root = XMLElement("stream", namespace: streamsNS, attributes: [
        XMLAttribute("id", "c2s-7f3a"), XMLAttribute("from", "capulet.example"),
        XMLAttribute("version", "1.0"), XMLAttribute("xml:lang", "en"),
    ])
    let bindNS = "urn:ietf:params:xml:ns:xmpp-bind"
    let saslNS = "urn:ietf:params:xml:ns:xmpp-sasl"
    let features = XMLElement("features", namespace: streamsNS, children: [
        .element(XMLElement("bind", namespace: bindNS, children: [.element(XMLElement("required", namespace: bindNS))])),
        .element(XMLElement("mechanisms", namespace: saslNS, children: [
            .element(.textElement("mechanism", namespace: saslNS, "SCRAM-SHA-256")),
            .element(.textElement("mechanism", namespace: saslNS, "SCRAM-SHA-1")),
        ])),
        .element(XMLElement("c", namespace: "http://jabber.org/protocol/caps", attributes: [
            XMLAttribute("hash", "sha-1"), XMLAttribute("node", "http://prosody.im"), XMLAttribute("ver", "Tn/Rb+9q="),
        ])),
    ])
    let iq = XMLElement("iq", namespace: clientNS, attributes: ["type": "result", "id": "bind-1"], children: [
        .element(XMLElement("bind", namespace: bindNS, children: [
            .element(.textElement("jid", namespace: bindNS, "juliet@capulet.example/balcony")),
        ])),
    ])
    let message = XMLElement("message", namespace: clientNS, attributes: [
        "from": "romeo@montague.example/orchard", "to": "juliet@capulet.example/balcony",
        "type": "chat", "id": "m1", "xml:lang": "de",
    ], children: [
        .element(.textElement("body", namespace: clientNS, "Grüße & Küsse 🌹 <3 — 日本語")),
        .element(XMLElement("active", namespace: "http://jabber.org/protocol/chatstates")),
    ])
    let presence = XMLElement("presence", namespace: clientNS, attributes: ["from": "nurse@capulet.example/kitchen"], children: [
        .element(.textElement("show", namespace: clientNS, "away")),
        .element(.textElement("status", namespace: clientNS, "Making tea")),
    ])
    return [.streamStart(root), .stanza(features), .stanza(iq), .stanza(message), .stanza(presence), .streamEnd]
}

/// Feeds the pieces in order through one parser and collects every event.
func events(_ pieces: [ArraySlice<UInt8>], limits: XMLStreamLimits = XMLStreamLimits()) throws(XMLStreamError) -> [XMLStreamEvent] {
    let parser = XMLStreamParser(limits: limits)
    var all: [XMLStreamEvent] = []
    for piece in pieces {
        all += try parser.feed(Array(piece))
    }
    return all
}

/// The error a stream ends with, or nil if it parses.
func streamError(_ xml: String, limits: XMLStreamLimits = XMLStreamLimits(), chunk: Int = .max) -> XMLStreamError? {
    let bytes = Array(xml.utf8)
    let step = min(chunk, max(bytes.count, 1))
    let pieces = stride(from: 0, to: bytes.count, by: step).map { bytes[$0..<min($0 + step, bytes.count)] }
    do {
        _ = try events(pieces, limits: limits)
        return nil
    } catch {
        return error
    }
}

final class XMLStreamParserTests: XCTestCase {
    // MARK: Events and namespaces

    func testRealisticStreamWithFeatures() throws {
        let parser = XMLStreamParser()
        XCTAssertEqual(try parser.feed(realisticStream), expectedRealisticEvents())
    }

    func testStreamStartIsReportedBeforeAnyStanzaArrives() throws {
        let parser = XMLStreamParser()
        let first = try parser.feed(clientHeader)
        XCTAssertEqual(first.count, 1)
        guard case .streamStart(let root) = first.first else { return XCTFail("no stream start: \(first)") }
        XCTAssertEqual(root.name, "stream")
        XCTAssertEqual(root.namespace, streamsNS)
        XCTAssertEqual(root[attribute: "xml:lang"], "en")
        XCTAssertTrue(root.children.isEmpty)
        XCTAssertEqual(try parser.feed("<presence/>"), [.stanza(XMLElement("presence", namespace: clientNS))])
        XCTAssertEqual(try parser.feed("</stream:stream>"), [.streamEnd])
    }

    func testStanzasInheritTheRootsDefaultNamespace() throws {
        let parser = XMLStreamParser()
        let events = try parser.feed("""
            <stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' from='gw.example'>\
            <message to='a@b'><body>hi</body></message>
            """)
        XCTAssertEqual(events.last, .stanza(XMLElement("message", namespace: "jabber:component:accept", attributes: ["to": "a@b"],
                                                       children: [.element(.textElement("body", namespace: "jabber:component:accept", "hi"))])))
    }

    func testPrefixedAndRedeclaredNamespaces() throws {
        let parser = XMLStreamParser()
        let events = try parser.feed(clientHeader + """
            <message xmlns:x='urn:example:x' x:flag='1' xml:lang='fr'>\
            <x:note>n</x:note><outer xmlns='urn:example:outer'><inner/><back xmlns='jabber:client'/></outer><plain/></message>\
            <stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>
            """)
        let message = XMLElement("message", namespace: clientNS, attributes: ["x:flag": "1", "xml:lang": "fr"], children: [
            .element(.textElement("note", namespace: "urn:example:x", "n")),
            .element(XMLElement("outer", namespace: "urn:example:outer", children: [
                .element(XMLElement("inner", namespace: "urn:example:outer")),
                .element(XMLElement("back", namespace: clientNS)),
            ])),
            .element(XMLElement("plain", namespace: clientNS)),
        ])
        let error = XMLElement("error", namespace: streamsNS, children: [
            .element(XMLElement("conflict", namespace: "urn:ietf:params:xml:ns:xmpp-streams")),
        ])
        XCTAssertEqual(Array(events.dropFirst()), [.stanza(message), .stanza(error)])
    }

    func testEmptyDefaultNamespaceUndeclares() throws {
        let element = try XMLElement(parsing: "<a xmlns='urn:a'><b xmlns=''><c/></b></a>")
        XCTAssertEqual(element.namespace, "urn:a")
        XCTAssertEqual(element.elements.first?.namespace, "")
        XCTAssertEqual(element.elements.first?.elements.first?.namespace, "")
    }

    func testUndeclaredPrefixKeepsTheQualifiedName() throws {
        let element = try XMLElement(parsing: "<a xmlns='urn:a' q:attr='v'><q:b/></a>")
        XCTAssertEqual(element.attributes, [XMLAttribute("q:attr", "v")])
        XCTAssertEqual(element.elements, [XMLElement("q:b", namespace: "")])
    }

    func testNameWithTwoColonsKeepsItsWholeNameAndSurvivesARoundTrip() throws {
        // libxml2 reads `p:a:b` as the local name "a:b" in p's namespace, which serialized and
        // parsed again would land in no namespace: the element changed on every store and reload.
        let element = try XMLElement(parsing: "<x xmlns:p='urn:p'><p:a:b/><b:c xmlns='urn:d'/></x>")
        XCTAssertEqual(element.elements, [XMLElement("p:a:b", namespace: ""), XMLElement("b:c", namespace: "")])
        XCTAssertEqual(try XMLElement(parsing: element.serialized()), element)
    }

    func testAmpersandInANamespaceIsReadOnce() throws {
        // libxml2 hands over `&amp;` in a namespace URI as `&#38;`, which was kept: the namespace
        // was wrong, and grew by "#38;" on every store and reload.
        let element = try XMLElement(parsing: "<a xmlns='urn:x?a=1&amp;b=2'><b xmlns:p='x&#38;y'><p:c/></b></a>")
        XCTAssertEqual(element.namespace, "urn:x?a=1&b=2")
        XCTAssertEqual(element.elements.first?.elements.first?.namespace, "x&y")
        XCTAssertEqual(try XMLElement(parsing: element.serialized()), element)
    }

    func testBadlyEncodedInputWritesNothingOnStandardError() throws {
        // libxml2 reported these conversion failures on stderr, over the terminal interface.
        let written = try capturingStandardError {
            // UCS-4 by its first bytes, then not; a UTF-16 byte-order mark, then a lone surrogate.
            _ = try? XMLStreamParser().feed([0, 0, 0, 0x3C, 0, 0, 0, 0x61, 0, 0x2D, 0x69, 0])
            let parser = XMLStreamParser()
            _ = try? parser.feed([0xFF, 0xFE, 0x3C, 0, 0x61, 0, 0x00, 0xD8, 0x3E, 0])
            _ = try? parser.feed([0x3E, 0])
        }
        XCTAssertEqual(written, "")
    }

    private func capturingStandardError(_ body: () -> Void) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stderr-\(UUID().uuidString)").path
        let file = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o600)
        XCTAssertGreaterThanOrEqual(file, 0)
        defer { unlink(path) }
        fflush(nil)
        let saved = dup(2)
        dup2(file, 2)
        body()
        fflush(nil)
        dup2(saved, 2)
        close(saved)
        close(file)
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    // MARK: Splitting

    func testOneByteAtATimeGivesTheSameEvents() throws {
        let bytes = Array(realisticStream.utf8)
        let parser = XMLStreamParser()
        var all: [XMLStreamEvent] = []
        for byte in bytes {
            all += try parser.feed([byte])
        }
        XCTAssertEqual(all, expectedRealisticEvents())
    }

    func testEverySplitPointOfTwoStanzas() throws {
        let xml = clientHeader + "<message id='é' to='ü@example'><body>Ünïcødé 🎉 text &amp; &#x1F600; more</body></message> "
            + "<iq type='get' id='日本'><query xmlns='jabber:iq:roster'/></iq>"
        let bytes = Array(xml.utf8)
        let expected = try events([bytes[...]])
        XCTAssertEqual(expected.count, 3)
        XCTAssertEqual(expected[1], .stanza(XMLElement("message", namespace: clientNS, attributes: ["id": "é", "to": "ü@example"],
                                                       children: [.element(.textElement("body", namespace: clientNS, "Ünïcødé 🎉 text & 😀 more"))])))
        var splitsInsideCharacters = 0
        for split in 1..<bytes.count {
            if bytes[split] & 0xC0 == 0x80 { splitsInsideCharacters += 1 }
            XCTAssertEqual(try events([bytes[..<split], bytes[split...]]), expected, "split at byte \(split)")
        }
        XCTAssertGreaterThan(splitsInsideCharacters, 10, "the fixture must have multi-byte characters to split")
    }

    func testThreeWaySplitsAroundTheStanzaBoundary() throws {
        let xml = clientHeader + "<a>1</a><b x='y'>2</b>"
        let bytes = Array(xml.utf8)
        let expected = try events([bytes[...]])
        let start = clientHeader.utf8.count
        for first in start..<bytes.count {
            for second in first..<bytes.count {
                XCTAssertEqual(try events([bytes[..<first], bytes[first..<second], bytes[second...]]), expected)
            }
        }
    }

    // MARK: Text

    func testAdjacentTextIsMergedIntoOneNode() throws {
        let element = try XMLElement(parsing: "<body>a &amp; b &lt;c&gt; &#233;&#x1F600;<![CDATA[<raw & stuff>]]> end</body>")
        XCTAssertEqual(element.children, [.text("a & b <c> é😀<raw & stuff> end")])
    }

    func testTextAroundChildElementsStaysInOrder() throws {
        let element = try XMLElement(parsing: "<p>one<b>two</b>three<i/>four</p>")
        XCTAssertEqual(element.children, [
            .text("one"), .element(.textElement("b", namespace: "", "two")), .text("three"),
            .element(XMLElement("i", namespace: "")), .text("four"),
        ])
    }

    func testAmpersandsInAttributeValues() throws {
        let element = try XMLElement(parsing: "<a v='&amp;#38; &#38; &amp;amp; &#x26;&#x26;' w='&#38;&#38;'/>")
        XCTAssertEqual(element[attribute: "v"], "&#38; & &amp; &&")
        XCTAssertEqual(element[attribute: "w"], "&&")
    }

    func testRepeatedAttributeNamesWithChangingValues() throws {
        let values = ["juliet@capulet.example/balcony", "romeo@montague.example/orchard", "juliet@capulet.example/balconx",
                      "juliet@capulet.example/balcony", "", "short", "&", "&amp;", "juliet@capulet.example/balcony", "日本",
                      String(repeating: "long", count: 100), String(repeating: "long", count: 100) + "!", "x"]
        var xml = clientHeader
        for value in values {
            XMLElement("presence", namespace: clientNS, attributes: ["from": value, "id": value]).serialize(into: &xml, parentNamespace: clientNS)
        }
        let events = try XMLStreamParser().feed(xml)
        XCTAssertEqual(events.dropFirst().map { event -> String? in
            guard case .stanza(let stanza) = event, stanza[attribute: "id"] == stanza[attribute: "from"] else { return nil }
            return stanza[attribute: "from"]
        }, values)
    }

    func testManyDistinctNamesAndNamespaces() throws {
        // More names than the name cache has slots, so entries are evicted and refilled.
        var xml = clientHeader
        var expected: [XMLStreamEvent] = []
        for index in 0..<700 {
            let element = XMLElement("e\(index)", namespace: "urn:example:\(index % 300)",
                                     attributes: [XMLAttribute("a\(index % 400)", "\(index)")],
                                     children: [.element(XMLElement("c\(index % 350)", namespace: "urn:child:\(index)"))])
            element.serialize(into: &xml, parentNamespace: clientNS)
            expected.append(.stanza(element))
        }
        XCTAssertEqual(Array(try XMLStreamParser().feed(xml).dropFirst()), expected)
    }

    func testWhitespaceKeepalivesProduceNoEvents() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(clientHeader)
        for keepalive in [" ", "\n", "\r\n", "\t \n", " "] {
            XCTAssertEqual(try parser.feed(keepalive), [])
        }
        XCTAssertEqual(try parser.feed(" <presence/> \n"), [.stanza(XMLElement("presence", namespace: clientNS))])
        XCTAssertEqual(try parser.feed("  "), [])
    }

    func testWhitespaceInsideStanzasIsKept() throws {
        let element = try XMLElement(parsing: "<body>  two  spaces\nand a line </body>")
        XCTAssertEqual(element.text, "  two  spaces\nand a line ")
    }

    func testCommentsAreDropped() throws {
        let element = try XMLElement(parsing: "<body>a<!-- hidden -->b</body>")
        XCTAssertEqual(element.children, [.text("ab")])
    }

    // MARK: Refusals

    func testBillionLaughsIsRefusedBeforeExpansion() {
        var xml = "<?xml version='1.0'?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        for level in 1...9 {
            let previous = level == 1 ? "lol" : "lol\(level - 1)"
            xml += "<!ENTITY lol\(level) \"" + String(repeating: "&\(previous);", count: 10) + "\">"
        }
        xml += "]><lolz>&lol9;</lolz>"
        let started = ContinuousClock.now
        XCTAssertEqual(streamError(xml), .doctypeForbidden)
        XCTAssertThrowsError(try XMLElement(parsing: xml)) { XCTAssertEqual($0 as? XMLStreamError, .doctypeForbidden) }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(1))
    }

    func testExternalEntityIsRefused() {
        let xml = "<?xml version='1.0'?><!DOCTYPE foo [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><foo>&xxe;</foo>"
        XCTAssertEqual(streamError(xml), .doctypeForbidden)
        XCTAssertEqual(streamError(xml, chunk: 1), .doctypeForbidden)
    }

    func testDoctypeIsRefused() {
        XCTAssertEqual(streamError("<!DOCTYPE stream:stream><stream:stream xmlns:stream='\(streamsNS)'>"), .doctypeForbidden)
        XCTAssertEqual(streamError("<?xml version='1.0'?><!DOCTYPE x SYSTEM 'http://attacker.example/x.dtd'><x/>"), .doctypeForbidden)
        XCTAssertEqual(streamError("<!DOCTYPE x PUBLIC '-//X//EN' 'x.dtd' []><x/>", chunk: 3), .doctypeForbidden)
    }

    func testUndeclaredEntityReferenceIsRefused() {
        XCTAssertEqual(streamError(clientHeader + "<message><body>&xxe;</body></message>"), .entityForbidden)
        XCTAssertEqual(streamError(clientHeader + "<message to='&xxe;'/>"), .entityForbidden)
        XCTAssertThrowsError(try XMLElement(parsing: "<a>&nbsp;</a>")) { XCTAssertEqual($0 as? XMLStreamError, .entityForbidden) }
    }

    func testPredefinedEntitiesAndCharacterReferencesAreAccepted() throws {
        let element = try XMLElement(parsing: "<a v='&lt;&gt;&amp;&apos;&quot;&#65;&#x42;'>&lt;&gt;&amp;&apos;&quot;&#65;&#x42;</a>")
        XCTAssertEqual(element[attribute: "v"], "<>&'\"AB")
        XCTAssertEqual(element.text, "<>&'\"AB")
    }

    func testProcessingInstructionsAreRefused() {
        XCTAssertEqual(streamError("<?xml version='1.0'?><?xml-stylesheet href='x.xsl'?><stream:stream xmlns:stream='\(streamsNS)'>"),
                       .processingInstructionForbidden)
        XCTAssertEqual(streamError(clientHeader + "<message><?php evil() ?></message>"), .processingInstructionForbidden)
    }

    func testXMLDeclarationIsNotAProcessingInstruction() {
        XCTAssertNil(streamError("<?xml version='1.0' encoding='UTF-8'?><stream:stream xmlns:stream='\(streamsNS)'>"))
    }

    func testMalformedXMLIsRefused() {
        let cases = [
            clientHeader + "<message><body></message>",
            clientHeader + "<message to='unterminated></message>",
            clientHeader + "<message a='1' a='2'/>",
            clientHeader + "<1message/>",
            clientHeader + "<message>\u{1}</message>",
            "<stream:stream xmlns:stream='\(streamsNS)'></stream:stream><extra/>",
        ]
        for xml in cases {
            guard case .malformed(let message) = streamError(xml) else {
                XCTFail("not refused as malformed: \(xml)")
                continue
            }
            XCTAssertFalse(message.isEmpty)
            XCTAssertFalse(message.hasSuffix("\n"))
        }
    }

    func testInvalidUTF8IsRefused() {
        let parser = XMLStreamParser()
        XCTAssertNoThrow(try parser.feed(clientHeader))
        XCTAssertThrowsError(try parser.feed(Array("<message><body>".utf8) + [0xFF, 0xFE, 0x41] + Array("</body></message>".utf8))) {
            guard case .malformed = $0 as? XMLStreamError else { return XCTFail("\($0)") }
        }
    }

    func testErrorsAreSticky() throws {
        let parser = XMLStreamParser()
        _ = try parser.feed(clientHeader)
        XCTAssertThrowsError(try parser.feed("<message>&bad;</message>")) { XCTAssertEqual($0 as? XMLStreamError, .entityForbidden) }
        XCTAssertThrowsError(try parser.feed("<presence/>")) { XCTAssertEqual($0 as? XMLStreamError, .entityForbidden) }
        XCTAssertThrowsError(try parser.feed([UInt8]())) { XCTAssertEqual($0 as? XMLStreamError, .entityForbidden) }
    }

    // MARK: Limits

    func testOversizedStanzaIsRefused() {
        let limits = XMLStreamLimits(maxStanzaBytes: 1024)
        let big = clientHeader + "<message><body>" + String(repeating: "x", count: 2000) + "</body></message>"
        XCTAssertEqual(streamError(big, limits: limits), .stanzaTooLarge(limit: 1024))
        XCTAssertEqual(streamError(big, limits: limits, chunk: 100), .stanzaTooLarge(limit: 1024))
        XCTAssertEqual(streamError(big, limits: limits, chunk: 1), .stanzaTooLarge(limit: 1024))
        let small = clientHeader + "<message><body>" + String(repeating: "x", count: 900) + "</body></message>"
        XCTAssertNil(streamError(small + small.dropFirst(clientHeader.count), limits: limits))
    }

    func testStanzaSizeLimitIsExact() {
        let overhead = "<message><body></body></message>".utf8.count
        let limit = 500
        func stanza(_ size: Int) -> String { "<message><body>" + String(repeating: "y", count: size - overhead) + "</body></message>" }
        let limits = XMLStreamLimits(maxStanzaBytes: limit)
        for chunk in [1, 7, 4096] {
            XCTAssertNil(streamError(clientHeader + stanza(limit) + stanza(limit) + "\n " + stanza(limit), limits: limits, chunk: chunk))
            XCTAssertEqual(streamError(clientHeader + stanza(limit) + stanza(limit + 1), limits: limits, chunk: chunk),
                           .stanzaTooLarge(limit: limit))
            XCTAssertEqual(streamError(clientHeader + stanza(limit + 1), limits: limits, chunk: chunk), .stanzaTooLarge(limit: limit))
        }
    }

    func testEndlessStartTagIsRefusedWhileStillOpen() throws {
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 64 * 1024))
        _ = try parser.feed(clientHeader + "<message to='")
        let filler = [UInt8](repeating: UInt8(ascii: "a"), count: 4096)
        var fed = 0
        do {
            while fed < 10 << 20 {
                _ = try parser.feed(filler)
                fed += filler.count
            }
            XCTFail("10 MiB of one start tag was accepted")
        } catch {
            XCTAssertEqual(error, .stanzaTooLarge(limit: 64 * 1024))
            XCTAssertLessThanOrEqual(fed, 64 * 1024)
        }
    }

    func testEndlessKeepaliveWhitespaceIsNotAStanza() throws {
        let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 1000))
        _ = try parser.feed(clientHeader)
        for _ in 0..<100 {
            XCTAssertEqual(try parser.feed(String(repeating: " ", count: 400)), [])
        }
        XCTAssertEqual(try parser.feed("<presence/>"), [.stanza(XMLElement("presence", namespace: clientNS))])
    }

    func testOversizedStreamHeaderIsRefused() {
        let header = "<stream:stream xmlns:stream='\(streamsNS)' from='" + String(repeating: "h", count: 5000) + "'>"
        XCTAssertEqual(streamError(header, limits: XMLStreamLimits(maxStanzaBytes: 1000)), .stanzaTooLarge(limit: 1000))
    }

    func testTooDeepIsRefused() {
        let limits = XMLStreamLimits(maxDepth: 3)
        XCTAssertNil(streamError(clientHeader + "<a><b><c/></b></a>", limits: limits))
        XCTAssertEqual(streamError(clientHeader + "<a><b><c><d/></c></b></a>", limits: limits), .tooDeep(limit: 3))
        XCTAssertEqual(streamError(clientHeader + "<a><b><c><d>", limits: limits, chunk: 1), .tooDeep(limit: 3))
        let deep = String(repeating: "<x>", count: 1000)
        XCTAssertEqual(streamError(clientHeader + deep), .tooDeep(limit: 64))
    }

    // MARK: Standalone documents

    func testParsingADocument() throws {
        let element = try XMLElement(parsing: "<?xml version='1.0'?>\n<iq xmlns='jabber:client' type='get'><ping xmlns='urn:xmpp:ping'/></iq>\n")
        XCTAssertEqual(element, XMLElement("iq", namespace: clientNS, attributes: ["type": "get"],
                                           children: [.element(XMLElement("ping", namespace: "urn:xmpp:ping"))]))
    }

    func testParsingRejectsIncompleteOrExtraDocuments() {
        for xml in ["", "   ", "<a>", "<a/><b/>", "text", "<a></b>"] {
            XCTAssertThrowsError(try XMLElement(parsing: xml), xml) {
                guard case .malformed = $0 as? XMLStreamError else { return XCTFail("\(xml): \($0)") }
            }
        }
    }

    func testParsingAppliesLimits() {
        XCTAssertThrowsError(try XMLElement(parsing: String(repeating: "<a>", count: 70) + String(repeating: "</a>", count: 70))) {
            XCTAssertEqual($0 as? XMLStreamError, .tooDeep(limit: 64))
        }
        XCTAssertThrowsError(try XMLElement(parsing: "<a>" + String(repeating: "z", count: 100) + "</a>",
                                            limits: XMLStreamLimits(maxStanzaBytes: 50))) {
            XCTAssertEqual($0 as? XMLStreamError, .stanzaTooLarge(limit: 50))
        }
    }

    func testFeedingBufferPointerAndStringAgree() throws {
        let bytes = Array(realisticStream.utf8)
        let viaPointer = try bytes.withUnsafeBytes { buffer in try XMLStreamParser().feed(buffer) }
        XCTAssertEqual(viaPointer, try XMLStreamParser().feed(realisticStream))
    }
}
