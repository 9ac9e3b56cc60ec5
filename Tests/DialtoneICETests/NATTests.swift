import DialtoneTestSupport
import Foundation
import XCTest
@testable import DialtoneICE

/// ICE across a NAT: aioice runs in a network namespace behind a masquerading router (made
/// by Peers/natlab, namespaces and links only this test uses), learns its public side from a
/// STUN server, and our agent reaches it there. Needs root, `ip` and `iptables`; skipped where
/// the machine does not allow network namespaces.
final class NATTests: XCTestCase {
    func testServerReflexiveCandidateCrossesANAT() async throws {
        let (candidates, selected) = try await callAcrossNAT(relay: false)
        let natSide = IPAddress("10.77.1.2")!
        XCTAssertTrue(candidates.contains { $0.type == .serverReflexive && $0.address.ip == natSide },
                      "the peer learnt the NAT's public side from STUN: \(candidates)")
        XCTAssertEqual(selected?.remote.address.ip, natSide, "the media path runs through the NAT's mapping")
    }

    /// The peer behind the NAT offers only a relayed candidate (coturn in the public
    /// namespace): the call goes through the relay.
    func testRelayedCandidateCrossesANAT() async throws {
        let (candidates, selected) = try await callAcrossNAT(relay: true)
        let relay = IPAddress("10.77.1.1")!
        XCTAssertFalse(candidates.isEmpty)
        XCTAssertTrue(candidates.allSatisfy { $0.type == .relayed && $0.address.ip == relay }, "\(candidates)")
        XCTAssertEqual(selected?.remote.type, .relayed)
        XCTAssertEqual(selected?.remote.address.ip, relay)
    }

    /// Sets up the lab, a STUN (or TURN) server in the public namespace and aioice behind the
    /// NAT; connects our agent (on the host side of the lab) to it and exchanges media.
    func callAcrossNAT(relay: Bool) async throws -> (peerCandidates: [ICECandidate], selected: ICEPairSnapshot?) {
        let environment = ProcessInfo.processInfo.environment
        guard let python = environment["DIALTONE_PYTHON"], !python.isEmpty else { throw missingPart("DIALTONE_PYTHON is not set") }
        guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/sbin/iptables") else {
            throw XCTSkip("needs root and iptables for network namespaces")
        }
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers")
        let lab = here.appendingPathComponent("natlab").path
        let prefix = "dt\(getpid() % 10000)"
        let setUp = try PipedChild(["/bin/bash", lab, "up", prefix])
        setUp.closeInput()
        guard try await setUp.wait() == 0 else { throw XCTSkip("this machine does not allow the NAT lab: \(setUp.errors)") }
        defer {
            if let tearDown = try? PipedChild(["/bin/bash", lab, "down", prefix]) {
                tearDown.closeInput()
                tearDown.waitSynchronously()
            }
        }
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("natlab-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        var peerArguments = ["--role", "controlled", "--host", "192.168.77.2", "--count", "2"]
        let server: PipedChild
        if relay {
            let credentials = TURNClientCore.restCredentials(secret: "natlab-secret", name: "peer", expiry: Int(Date().timeIntervalSince1970) + 3600)
            server = try PipedChild(["/usr/sbin/ip", "netns", "exec", "\(prefix)pub", "/usr/bin/turnserver", "-n",
                                     "--listening-ip=10.77.1.1", "--relay-ip=10.77.1.1", "--listening-port=3478",
                                     "--min-port=49700", "--max-port=49799", "--use-auth-secret", "--static-auth-secret=natlab-secret",
                                     "--realm=natlab", "--fingerprint", "--no-tls", "--no-dtls", "--no-cli", "--no-rfc5780",
                                     "--no-multicast-peers", "--db=\(work.path)/turndb", "--pidfile=\(work.path)/turn.pid",
                                     "--log-file=\(work.path)/turn.log", "--simple-log", "--no-stdout-log"])
            try await Task.sleep(for: .milliseconds(500))
            peerArguments += ["--turn", "10.77.1.1:3478", "--turn-username", credentials.username, "--turn-password", credentials.password]
        } else {
            server = try PipedChild(["/usr/sbin/ip", "netns", "exec", "\(prefix)pub", python,
                                     here.appendingPathComponent("stun_responder.py").path, "10.77.1.1", "3478"])
            _ = try await server.readLine()
            peerArguments += ["--stun", "10.77.1.1:3478"]
        }
        defer { server.terminate(); server.waitSynchronously() }
        let peer = try PipedChild(["/usr/sbin/ip", "netns", "exec", "\(prefix)priv", python,
                                   here.appendingPathComponent("aioice_peer.py").path] + peerArguments)
        defer { peer.terminate() }

        var configuration = ICEConfiguration()
        configuration.hostAddresses = [IPAddress("10.77.0.1")!]
        configuration.useIPv6 = false
        let agent = ICEAgent(role: .controlling, configuration: configuration)
        try await agent.start()
        let peerCandidates = try await withHangGuard(.seconds(60)) { () -> [ICECandidate] in
            let peerCandidates = try await exchangeCandidates(agent, with: peer)
            try await agent.connected()
            for i in 0..<2 { try await agent.send([0x80, UInt8(i)] + Array("across the NAT".utf8)) }
            var iterator = agent.incoming.makeAsyncIterator()
            for _ in 0..<2 { _ = await iterator.next() }
            return peerCandidates
        }
        let selected = await agent.selectedPair
        XCTAssertNotEqual(selected?.remote.address.ip, IPAddress("192.168.77.2"), "the private address is unreachable from here")
        await agent.close()
        return (peerCandidates, selected)
    }
}
