@testable import DialtoneICE

/// The signalling half of an interop test against Peers/aioice_peer.py: our credentials and
/// every candidate, then end-of-candidates; theirs as they come, until the peer says it is
/// connected. Returns the peer's candidates.
@discardableResult
func exchangeCandidates(_ agent: ICEAgent, with peer: PipedChild) async throws -> [ICECandidate] {
    let (ufrag, password) = await agent.localCredentials
    try peer.writeJSON(["ufrag": ufrag, "pwd": password])
    for candidate in await agent.gatherAll() { try peer.writeJSON(["candidate": candidate.sdp]) }
    try peer.writeJSON(["end": true])
    var candidates: [ICECandidate] = []
    while true {
        guard let message = try await peer.readJSON() else { throw PeerError("peer ended early: \(peer.errors)") }
        if let remoteUfrag = message["ufrag"] as? String, let remotePassword = message["pwd"] as? String {
            await agent.setRemoteCredentials(ufrag: remoteUfrag, password: remotePassword)
        } else if let sdp = message["candidate"] as? String {
            guard let candidate = ICECandidate(sdp: sdp) else { throw PeerError("unparsable candidate \(sdp)") }
            candidates.append(candidate)
            await agent.addRemoteCandidate(candidate)
        } else if message["end"] != nil {
            await agent.endOfRemoteCandidates()
        } else if message["connected"] != nil {
            return candidates
        }
    }
}
