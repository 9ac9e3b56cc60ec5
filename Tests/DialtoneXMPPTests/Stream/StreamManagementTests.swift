import DialtoneXML
@testable import DialtoneXMPP
import XCTest

final class StreamManagementTests: XCTestCase {
    private func stanza(_ id: String) -> XMLElement {
        XMLElement("message", namespace: Namespace.client, attributes: [XMLAttribute("id", id)])
    }

    func testAcknowledgeReleasesInOrder() throws {
        var state = StreamManagementState()
        for id in ["a", "b", "c"] { state.sent(stanza(id)) }
        XCTAssertEqual(state.outboundSent, 3)
        XCTAssertEqual(try state.acknowledge(2).map { $0[attribute: "id"] }, ["a", "b"])
        XCTAssertEqual(state.unacknowledged.map { $0[attribute: "id"] }, ["c"])
        XCTAssertEqual(try state.acknowledge(2), [])  // a repeated ack changes nothing
        XCTAssertEqual(try state.acknowledge(3).count, 1)
    }

    func testAckBeyondWhatWasSentIsAnError() {
        var state = StreamManagementState()
        state.sent(stanza("a"))
        XCTAssertThrowsError(try state.acknowledge(2))
    }

    func testCountersWrapAt32Bits() throws {
        var state = StreamManagementState()
        state.handled(Int(UInt32.max))
        state.handled(2)
        XCTAssertEqual(state.inboundHandled, 1)
        // Outbound: pretend the server has confirmed up to 2^32 - 1, then two more go out.
        var wrapped = StreamManagementState()
        for index in 0..<3 { wrapped.sent(stanza("\(index)")) }
        _ = try wrapped.acknowledge(3)
        wrapped.sent(stanza("x"))
        XCTAssertEqual(try wrapped.acknowledge(4).count, 1)
    }

    func testResetHandsBackWhatWasNotConfirmed() throws {
        var state = StreamManagementState()
        state.enabled(resumptionID: "abc", location: nil)
        state.sent(stanza("a"))
        state.sent(stanza("b"))
        _ = try state.acknowledge(1)
        XCTAssertEqual(state.reset().map { $0[attribute: "id"] }, ["b"])
        XCTAssertNil(state.resumptionID)
        XCTAssertEqual(state.outboundSent, 0)
    }

    /// The outbox skips exactly what the session will resend itself: sent and not confirmed.
    func testUnacknowledgedIDsAreThoseTheSessionWillResend() throws {
        var state = StreamManagementState()
        state.enabled(resumptionID: "abc", location: nil)
        state.sent(stanza("a"))
        state.sent(stanza("b"))
        XCTAssertTrue(state.isUnacknowledged(id: "a"))
        XCTAssertFalse(state.isUnacknowledged(id: "never-sent"))
        _ = try state.acknowledge(1)
        XCTAssertFalse(state.isUnacknowledged(id: "a"), "confirmed")
        XCTAssertTrue(state.isUnacknowledged(id: "b"))
        _ = state.reset()
        XCTAssertFalse(state.isUnacknowledged(id: "b"), "a refused resumption threw it away: the outbox must send it again")
    }

    /// A resumption that keeps failing without <failed/> (stream errors, drops mid-resume) is
    /// given up after a few tries, or the client would never be online again.
    func testResumptionIsGivenUpAfterAttemptsTheServerNeverConfirmed() {
        var state = StreamManagementState()
        XCTAssertFalse(state.mayResume, "nothing to resume before a session was enabled")
        state.enabled(resumptionID: "abc", location: nil)
        for _ in 0..<StreamManagementState.maximumUnconfirmedResumptions {
            XCTAssertTrue(state.mayResume)
            state.resumptionAttempted()
        }
        XCTAssertFalse(state.mayResume)
    }

    func testAConfirmationShowsTheResumedStreamWorks() {
        var state = StreamManagementState()
        state.enabled(resumptionID: "abc", location: nil)
        for _ in 0..<StreamManagementState.maximumUnconfirmedResumptions { state.resumptionAttempted() }
        state.confirmedByServer()
        XCTAssertTrue(state.mayResume, "a resumed stream the server acknowledged on counts as working")
        XCTAssertEqual(state.unconfirmedResumptions, 0)
        state.resumptionAttempted()
        _ = state.reset()
        XCTAssertEqual(state.unconfirmedResumptions, 0, "a new session starts counting afresh")
    }
}
