@testable import DialtoneXMPP
import XCTest

final class JIDTests: XCTestCase {
    func testParsesAllParts() throws {
        let jid = try JID("Alice@Example.COM/Phone/Home")
        XCTAssertEqual(jid.local, "alice")
        XCTAssertEqual(jid.domain, "example.com")
        XCTAssertEqual(jid.resource, "Phone/Home")  // only the first slash separates
        XCTAssertEqual(jid.bare.description, "alice@example.com")
        XCTAssertEqual(jid.description, "alice@example.com/Phone/Home")
    }

    func testDomainOnlyAndTrailingDot() throws {
        XCTAssertEqual(try JID("example.com.").description, "example.com")
        XCTAssertNil(try JID("example.com").local)
        XCTAssertEqual(try JID("a@b.c./r").description, "a@b.c/r")
        XCTAssertEqual(try JID("rooms.example.org").domain, "rooms.example.org")
        XCTAssertEqual(try JID("ROOMS.Example.org").domain, "rooms.example.org")
    }

    func testPhoneNumberAndGroupTextLocalParts() throws {
        XCTAssertEqual(try JID("+15551234567@cheogram.com").local, "+15551234567")
        XCTAssertEqual(try JID("+15551110000,+15552220000@cheogram.com").local, "+15551110000,+15552220000")
        XCTAssertEqual(try JID("12345;phone-context=ca.us.phone-context.soprani.ca@cheogram.com").local,
                       "12345;phone-context=ca.us.phone-context.soprani.ca")
    }

    func testRejectsInvalid() {
        for bad in ["@example.com", "a@", "a@b/", "a b@example.com", "a\"b@example.com", "a@exa mple.com",
                    "a@example..com", "a@.example.com", "a@example.com..", ".", "a@.", "a@ex\u{0007}ample.com", "x<y@example.com", String(repeating: "a", count: 1024) + "@example.com"] {
            XCTAssertThrowsError(try JID(bad), bad)
        }
    }

    /// An IPv6 literal domain holds an IPv6 address and nothing else: no controls, bidi
    /// overrides, spaces or markup smuggled in through the brackets.
    func testBracketedDomainIsAnIPv6AddressOnly() throws {
        for bad in ["a@[::1\u{0007}]", "a@[\u{202E}::1]", "a@[::1\n]", "a@[ ::1]", "a@[<b>]", "a@[\u{009B}31m]",
                    "a@[]", "a@[not-an-address]", "a@[1.2.3.4]", "a@[::1", "a@[::g]"] {
            XCTAssertThrowsError(try JID(bad), bad.debugDescription)
        }
        XCTAssertEqual(try JID("a@[::1]/r").domain, "[::1]")
        XCTAssertEqual(try JID("a@[2001:DB8::1]").domain, "[2001:db8::1]")
        XCTAssertEqual(try JID("[::ffff:192.0.2.1]").domain, "[::ffff:192.0.2.1]")
    }

    /// Beyond ASCII the same characters are refused, found through Unicode's tables instead.
    func testRejectsInvalidBeyondASCII() {
        for bad in ["jü rgen@example.com", "jü<x@example.com", "jü'x@example.com", "jü\u{00A0}x@example.com",
                    "a@exämple;com", "a@ex\u{2003}ämple.com", "a@exämple..com", "jü\u{0007}@example.com"] {
            XCTAssertThrowsError(try JID(bad), bad)
        }
        XCTAssertNoThrow(try JID("jürgen.o'neill-x@exämple.com".replacingOccurrences(of: "'", with: "")))
    }

    /// A resource (a room's nick) keeps its case and spaces; controls are refused in ASCII and
    /// beyond it, and beyond ASCII it takes its canonical form.
    func testResourcesKeepPrintableTextAndRefuseControls() throws {
        XCTAssertEqual(try JID("room@rooms.example.com/Ada Lovelace (desk)").resource, "Ada Lovelace (desk)")
        for bad in ["room@rooms.example.com/ada\u{7F}", "room@rooms.example.com/ada\u{1B}[2J", "room@rooms.example.com/jü\u{0007}",
                    "room@rooms.example.com/ada\u{202E}"] {
            XCTAssertThrowsError(try JID(bad), bad.debugDescription)
        }
        XCTAssertEqual(try JID("room@rooms.example.com/cafe\u{0301}").resource, "caf\u{00E9}")
    }

    func testUnicodeNormalisation() throws {
        // "é" precomposed and decomposed are the same address.
        XCTAssertEqual(try JID("caf\u{00E9}@example.com"), try JID("cafe\u{0301}@example.com"))
        XCTAssertEqual(try JID("JÜRGEN@EXAMPLE.COM").local, "jürgen")
    }

    func testEscapingRoundTrip() {
        let samples = ["space cadet", "call me \"ishmael\"", "at&t guy", "d'artagnan", "/.fanboy", "::foo::", "<foo>",
                       "user@host", "c:\\net", "c:\\\\net", "c:\\cool stuff", "c:\\5commas"]
        let expected = ["space\\20cadet", "call\\20me\\20\\22ishmael\\22", "at\\26t\\20guy", "d\\27artagnan", "\\2f.fanboy",
                        "\\3a\\3afoo\\3a\\3a", "\\3cfoo\\3e", "user\\40host", "c\\3a\\net", "c\\3a\\\\net",
                        "c\\3a\\cool\\20stuff", "c\\3a\\5c5commas"]
        for (sample, escaped) in zip(samples, expected) {
            XCTAssertEqual(JIDEscaping.escape(sample), escaped, sample)
            XCTAssertEqual(JIDEscaping.unescape(escaped), sample, escaped)
        }
        XCTAssertNoThrow(try JID(local: JIDEscaping.escape("space cadet@home"), domain: "example.com"))
    }
}
