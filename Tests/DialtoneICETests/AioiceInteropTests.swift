import DialtoneTestSupport
import Foundation
import XCTest
@testable import DialtoneICE

/// Our agent against aioice (an independent ICE implementation), both roles, trickling
/// candidates over the peer script's stdin/stdout, all on 127.0.0.1.
final class AioiceInteropTests: XCTestCase {
    func testWeControlAioice() async throws {
        try await runInterop(ourRole: .controlling)
    }

    func testAioiceControlsUs() async throws {
        try await runInterop(ourRole: .controlled)
    }

    func runInterop(ourRole: ICERole) async throws {
        let environment = ProcessInfo.processInfo.environment
        guard let python = environment["DIALTONE_PYTHON"], !python.isEmpty else {
            throw missingPart("DIALTONE_PYTHON is not set; Scripts/test sets it")
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/aioice_peer.py").path
        let peer = try PipedChild([python, script, "--role", ourRole == .controlling ? "controlled" : "controlling", "--count", "3"])
        let agent = ICEAgent(role: ourRole, configuration: loopbackConfiguration())
        try await agent.start()

        let received = try await withHangGuard(.seconds(60)) { () -> [String] in
            // Our side first, trickled: credentials, each candidate, then end-of-candidates.
            try await exchangeCandidates(agent, with: peer)
            var fromPeer: [String] = []
            try await agent.connected()
            for i in 0..<3 {
                try await agent.send([0x80, UInt8(i)] + Array("from-dialtone".utf8))
            }
            var iterator = agent.incoming.makeAsyncIterator()
            for _ in 0..<3 {
                guard let packet = await iterator.next() else { throw PeerError("media stream ended") }
                XCTAssertEqual(packet.kind, .rtp)
                fromPeer.append(String(decoding: packet.bytes.dropFirst(2), as: UTF8.self))
            }
            var peerReceived: [String] = []
            while let message = try await peer.readJSON() {
                if let hex = message["received"] as? String { peerReceived.append(hex) }
                if message["done"] != nil { break }
            }
            XCTAssertEqual(peerReceived.count, 3, "aioice got our datagrams")
            XCTAssertTrue(peerReceived.allSatisfy { $0.hasSuffix(Array("from-dialtone".utf8).map { String($0, radix: 16) }.joined()) })
            return fromPeer
        }
        XCTAssertEqual(received, Array(repeating: "from-aioice", count: 3))
        let selected = await agent.selectedPair
        XCTAssertEqual(selected?.nominated, true)
        XCTAssertEqual(selected?.remote.address.ip, .loopbackV4)
        let stats = await agent.statistics
        XCTAssertEqual(stats.rejected.total, 0, "aioice's checks all authenticated")
        peer.closeInput()
        let status = try await peer.wait()
        XCTAssertEqual(status, 0, peer.errors)
        await agent.close()
    }
}
