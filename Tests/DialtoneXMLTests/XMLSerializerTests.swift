import XCTest
@testable import DialtoneXML

/// Strings that break naive serializers: markup, quotes of both kinds, entity look-alikes,
/// CDATA terminators, line ends that parsers normalize, combining marks, astral characters.
let hostileStrings = [
    "", " ", "plain", "</body><iq type='set'><query xmlns='jabber:iq:roster'/></iq>",
    "' onmouseover='x", "\" onmouseover=\"x", "&amp;", "&lt;&gt;", "&#0;", "&xxe;", "]]>", "<![CDATA[x]]>",
    "<!-- c -->", "<?pi?>", "tab\there", "line\nbreak", "cr\ronly", "crlf\r\nend", "  leading and trailing  ",
    "e\u{301} combining", "🏳️‍🌈 family 👨‍👩‍👧", "日本語のテキスト", "\u{FEFF}bom", "\u{85}\u{2028}\u{7F}", "\u{FFFD}", "a>b",
    "xmlns='evil'", "\\'", "&", "<", ">",
]

final class XMLSerializerTests: XCTestCase {
    func testEscapesTextAndAttributes() {
        let element = XMLElement("body", namespace: "", attributes: [XMLAttribute("a", "<'\"&>\t\n\r")], children: [.text("<'\"&>\t\n\r")])
        XCTAssertEqual(element.serialized(), "<body a='&lt;&apos;&quot;&amp;&gt;&#9;&#10;&#13;'>&lt;'\"&amp;&gt;\t\n&#13;</body>")
    }

    func testRoundTripOfHostileStrings() throws {
        for string in hostileStrings {
            let element = XMLElement("message", namespace: clientNS, attributes: [XMLAttribute("id", string), XMLAttribute("xml:lang", string)],
                                     children: string.isEmpty ? [] : [.element(.textElement("body", namespace: clientNS, string))])
            let xml = element.serialized()
            XCTAssertEqual(try XMLElement(parsing: xml), element, "\(string.debugDescription) → \(xml)")
        }
    }

    func testRoundTripThroughAStream() throws {
        var xml = clientHeader
        var expected: [XMLStreamEvent] = []
        for string in hostileStrings {
            let element = XMLElement("message", namespace: clientNS, attributes: ["to": string],
                                     children: [.element(.textElement("body", namespace: clientNS, string + "!"))])
            element.serialize(into: &xml, parentNamespace: clientNS)
            expected.append(.stanza(element))
        }
        let events = try XMLStreamParser().feed(xml)
        XCTAssertEqual(Array(events.dropFirst()), expected)
    }

    func testIllegalCharactersAreDropped() throws {
        let dirty = "a\u{0}b\u{1}c\u{8}d\u{B}e\u{C}f\u{1B}g\u{1F}h\u{FFFE}i\u{FFFF}j"
        let element = XMLElement("x", namespace: "", attributes: [XMLAttribute("v", dirty)], children: [.text(dirty)])
        let xml = element.serialized()
        XCTAssertEqual(xml, "<x v='abcdefghij'>abcdefghij</x>")
        XCTAssertEqual(try XMLElement(parsing: xml).text, "abcdefghij")
    }

    func testCharactersNextToTheForbiddenOnesSurvive() throws {
        let edge = "\u{EFBF}\u{FFFD}\u{FFEF}\u{F000}\u{10FFFF}"
        let element = XMLElement.textElement("x", namespace: "", edge)
        XCTAssertEqual(try XMLElement(parsing: element.serialized()).text, edge)
    }

    func testNamespaceIsWrittenOnlyWhereItChanges() {
        let message = XMLElement("message", namespace: clientNS, attributes: ["to": "a@b"], children: [
            .element(.textElement("body", namespace: clientNS, "hi")),
            .element(XMLElement("active", namespace: "http://jabber.org/protocol/chatstates")),
            .element(XMLElement("x", namespace: "urn:x", children: [.element(XMLElement("y", namespace: "urn:x")),
                                                                    .element(XMLElement("none", namespace: ""))])),
        ])
        XCTAssertEqual(message.serialized(parentNamespace: clientNS),
                       "<message to='a@b'><body>hi</body><active xmlns='http://jabber.org/protocol/chatstates'/>"
                       + "<x xmlns='urn:x'><y/><none xmlns=''/></x></message>")
        XCTAssertTrue(message.serialized().hasPrefix("<message xmlns='jabber:client' to='a@b'>"))
        XCTAssertEqual(XMLElement("a", namespace: "").serialized(), "<a/>")
    }

    func testEmptyElementsSelfClose() {
        XCTAssertEqual(XMLElement("presence", namespace: clientNS).serialized(parentNamespace: clientNS), "<presence/>")
        XCTAssertEqual(XMLElement("body", namespace: "", children: [.text("")]).serialized(), "<body></body>")
    }

    func testSerializeIntoAppends() {
        var buffer = "<stream>"
        XMLElement("a", namespace: "").serialize(into: &buffer, parentNamespace: nil)
        XCTAssertEqual(buffer, "<stream><a/>")
    }

    func testHostileNamesCannotInjectMarkup() throws {
        let element = XMLElement("a b='1'><evil", namespace: "", attributes: [
            XMLAttribute("x='1' y", "v"), XMLAttribute("", "empty"), XMLAttribute("1st", "digit"),
        ])
        let xml = element.serialized()
        let parsed = try XMLElement(parsing: xml)
        XCTAssertEqual(parsed.elements, [])
        XCTAssertEqual(parsed.attributes.map(\.value), ["v", "empty", "digit"], xml)
    }

    func testXmlnsAttributeAndDuplicatesDoNotBreakTheOutput() throws {
        let element = XMLElement("a", namespace: "urn:real", attributes: [
            XMLAttribute("xmlns", "urn:fake"), XMLAttribute("id", "1"), XMLAttribute("id", "2"),
        ])
        let parsed = try XMLElement(parsing: element.serialized())
        XCTAssertEqual(parsed.namespace, "urn:real")
        XCTAssertEqual(parsed.attributes, [XMLAttribute("id", "1")])
    }

    func testRealisticStanzasRoundTrip() throws {
        for case .stanza(let stanza) in expectedRealisticEvents() {
            XCTAssertEqual(try XMLElement(parsing: stanza.serialized()), stanza)
            let inStream = try XMLStreamParser().feed(clientHeader + stanza.serialized(parentNamespace: clientNS))
            XCTAssertEqual(inStream.last, .stanza(stanza))
        }
    }

    func testHeader() {
        XCTAssertEqual(XMLStream.header(to: "capulet.example", from: "juliet@capulet.example"),
                       "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
                       + " to='capulet.example' from='juliet@capulet.example' version='1.0' xml:lang='en'>")
        XCTAssertEqual(XMLStream.header(to: "gw.example", from: nil, namespace: "jabber:component:accept", language: nil),
                       "<?xml version='1.0'?><stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams'"
                       + " to='gw.example' version='1.0'>")
        XCTAssertEqual(XMLStream.header(to: "a'b<c\"", from: nil, language: nil),
                       "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'"
                       + " to='a&apos;b&lt;c&quot;' version='1.0'>")
        XCTAssertEqual(XMLStream.footer, "</stream:stream>")
    }

    func testHeaderAndFooterParseAsAStream() throws {
        let parser = XMLStreamParser()
        let events = try parser.feed(XMLStream.header(to: "capulet.example", from: nil, language: "de") + "<presence/>" + XMLStream.footer)
        XCTAssertEqual(events, [
            .streamStart(XMLElement("stream", namespace: streamsNS, attributes: ["to": "capulet.example", "version": "1.0", "xml:lang": "de"])),
            .stanza(XMLElement("presence", namespace: clientNS)), .streamEnd,
        ])
    }
}
