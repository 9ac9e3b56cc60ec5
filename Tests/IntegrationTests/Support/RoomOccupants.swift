import DialtoneTestSupport
@testable import DialtoneXMPP
import Foundation
import XCTest

/// Appends one line to a room occupant's command file (Peers/muc_peer.py follows it).
func appendCommand(_ line: String, to commands: URL) throws {
    let handle = try FileHandle(forWritingTo: commands)
    handle.seekToEndOfFile()
    handle.write(Data((line + "\n").utf8))
    try handle.close()
}

/// Room tests whose peer is Peers/muc_peer.py: an occupant we did not write.
extension PythonPeerTestCase {
    /// The occupant, joined in `room` as `nick`, and the file its commands go to.
    func occupant(_ account: (jid: JID, password: String), in room: JID, nick: String,
                  timeout: Int = 90) async throws -> (child: ChildProcess, commands: URL) {
        let commands = URL(fileURLWithPath: harness.path("\(nick)-commands"))
        _ = FileManager.default.createFile(atPath: commands.path, contents: nil)
        let child = try peer(account, [], ["--room", room.description, "--nick", nick, "--commands", commands.path,
                                           "--timeout", String(timeout)])
        try await eventually("the occupant is in the room") { self.event("joined", in: child) != nil || !child.isRunning }
        XCTAssertTrue(child.isRunning, child.output + child.errors)
        return (child, commands)
    }

    func tell(_ commands: URL, _ line: String) throws { try appendCommand(line, to: commands) }
}
