import DialtoneICE
@testable import DialtoneJingle
import XCTest

/// libnice (Dino's ICE) aborts on two remote candidates with one transport address
/// (issue 13): a call never signals one twice, in its offer or answer or trickled after.
final class SignalledCandidatesTests: XCTestCase {
    func testNoCandidateIsSignalledTwice() {
        let host = TransportAddress("192.0.2.10", 50000)!
        let hostCandidate = ICECandidate(foundation: "1", priority: 2_130_706_431, address: host, type: .host)
        let sameAddress = ICECandidate(foundation: "2", priority: 1_694_498_815, address: host, type: .serverReflexive,
                                       relatedAddress: host)
        let relay = ICECandidate(foundation: "3", priority: 16_777_215, address: TransportAddress("203.0.113.9", 3478)!,
                                 type: .relayed)
        var signalled = SignalledCandidates()
        // The offer: the host candidate wins over the srflx one on its address.
        XCTAssertEqual(signalled.take([sameAddress, hostCandidate]), [hostCandidate])
        // Its event arrives after the offer went: not trickled again, nor anything on its address.
        XCTAssertEqual(signalled.take([hostCandidate]), [])
        XCTAssertEqual(signalled.take([sameAddress]), [])
        XCTAssertEqual(signalled.take([relay, relay]), [relay])
        XCTAssertEqual(signalled.take([relay]), [])
    }
}
