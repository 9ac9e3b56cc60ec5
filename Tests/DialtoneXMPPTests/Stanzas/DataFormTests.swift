import DialtoneXML
@testable import DialtoneXMPP
import XCTest

final class DataFormTests: XCTestCase {
    let form = """
        <x xmlns="jabber:x:data" type="form"><title>Account settings</title><instructions>Choose how calls reach you</instructions>\
        <field type="fixed"><value>Settings for +15551234567</value></field>\
        <field type="hidden" var="step"><value>1</value></field>\
        <field type="text-single" var="nickname" label="Display name"><value>Alice</value></field>\
        <field type="text-private" var="pin" label="Voicemail PIN"><required/></field>\
        <field type="boolean" var="voicemail" label="Voicemail on"><value>1</value></field>\
        <field type="list-single" var="forward" label="Forward calls to"><value>none</value>\
        <option label="Don't forward"><value>none</value></option><option label="SIP address"><value>sip</value></option></field>\
        <field type="list-multi" var="notify" label="Notify me by"><option><value>sms</value></option><option><value>email</value></option>\
        <option><value>xmpp</value></option><value>xmpp</value></field>\
        <field type="text-multi" var="greeting"><value>Hi</value><value>there</value></field>\
        <field var="untyped"/></x>
        """

    func testReadsEveryFieldTypeAndSubmitsWhatWasSet() throws {
        var parsed = try XCTUnwrap(DataForm(try XMLElement(parsing: form)))
        XCTAssertEqual(parsed.title, "Account settings")
        XCTAssertEqual(parsed.fields.count, 9)
        XCTAssertEqual(parsed.field("pin")?.required, true)
        XCTAssertEqual(parsed.field("untyped")?.type, "text-single", "no type means text-single")
        XCTAssertEqual(parsed.field("forward")?.options.map(\.value), ["none", "sip"])

        func set(_ variable: String, _ text: String) throws {
            let index = try XCTUnwrap(parsed.fields.firstIndex { $0.variable == variable })
            try parsed.fields[index].set(from: text)
        }
        try set("pin", "1234")
        try set("voicemail", "no")
        try set("forward", "SIP address")
        try set("notify", "1, email")
        try set("greeting", "Hello\nworld")
        XCTAssertThrowsError(try set("voicemail", "maybe"))
        XCTAssertThrowsError(try set("forward", "carrier pigeon"))
        XCTAssertThrowsError(try parsed.fields[0].set(from: "x"), "fixed fields are not edited")

        let submitted = try XCTUnwrap(DataForm(try XMLElement(parsing: parsed.submission.serialized())))
        XCTAssertEqual(submitted.type, "submit")
        XCTAssertNil(submitted.fields.first { $0.type == "fixed" }, "fixed fields are not sent back")
        XCTAssertEqual(submitted.field("step")?.values, ["1"], "hidden fields go back as they came")
        XCTAssertEqual(submitted.field("pin")?.values, ["1234"])
        XCTAssertEqual(submitted.field("voicemail")?.values, ["0"])
        XCTAssertEqual(submitted.field("forward")?.values, ["sip"])
        XCTAssertEqual(submitted.field("notify")?.values, ["sms", "email"])
        XCTAssertEqual(submitted.field("greeting")?.values, ["Hello", "world"])
    }

    func testReadsACommandStepWithNotesLinksAndActions() throws {
        let command = try XMLElement(parsing: """
            <command xmlns="http://jabber.org/protocol/commands" node="account" sessionid="s1" status="executing">\
            <actions execute="complete"><prev/><complete/></actions><note type="error">PIN must be 4 digits</note>\
            <x xmlns="jabber:x:oob"><url>https://example.invalid/topup</url><desc>Top up</desc></x>\(form)</command>
            """)
        let response = AdHocResponse(command)
        XCTAssertEqual(response.status, .executing)
        XCTAssertEqual(response.sessionID, "s1")
        XCTAssertEqual(response.actions, ["prev", "complete"])
        XCTAssertEqual(response.defaultAction, "complete")
        XCTAssertEqual(response.notes, [AdHocResponse.Note(type: "error", text: "PIN must be 4 digits")])
        XCTAssertEqual(response.links.first?.url, "https://example.invalid/topup")
        XCTAssertEqual(response.form?.fields.count, 9)
    }
}
