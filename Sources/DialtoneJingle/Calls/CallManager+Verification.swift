import DialtoneTLS
import DialtoneXMPP
import Logging

// OMEMO-verified calls (`FingerprintSealing`): our DTLS fingerprint encrypted for the peer's
// device, the peer's opened, and the call marked once both went that way with one device.

extension CallManager {
    /// Our fingerprint in `transport` encrypted for the peer's device, where one is known.
    /// One that cannot be encrypted goes in clear, as Conversations falls back: the call works,
    /// unverified.
    func seal(_ transport: inout ICEUDPTransport, for call: ActiveCall) async {
        guard let device = call.sealingDevice, let sealing = signalling.sealing, let fingerprint = transport.fingerprint else { return }
        do {
            let encrypted = try await sealing.seal(fingerprintString(fingerprint.value), call.info.peer, device)
            transport.sealedFingerprint = SealedFingerprint(hash: fingerprint.hash, setup: fingerprint.setup, encrypted: encrypted)
            call.sealedOurs = true
            noteProtection(call)
        } catch {
            logger.info("DTLS fingerprint sent in clear: it could not be encrypted for \(call.info.peer)'s device \(device): \(error)")
        }
    }

    /// The peer's encrypted fingerprints opened into the action's transports, in place of
    /// anything sent beside them in clear; nil when none came encrypted. Every content's must
    /// come from one device.
    func openFingerprints(_ action: inout JingleAction, from peer: JID) async throws -> FingerprintSealing.Opened? {
        var opened: FingerprintSealing.Opened?
        for index in action.contents.indices {
            guard let sealed = action.contents[index].transport?.sealedFingerprint else { continue }
            guard let sealing = signalling.sealing else { throw SealingError.cannotOpen("OMEMO is off for this account") }
            let result: FingerprintSealing.Opened
            do { result = try await sealing.open(sealed.encrypted, peer.bare) } catch { throw SealingError.cannotOpen("\(error)") }
            guard let fingerprint = sealed.opened(result.fingerprint) else { throw SealingError.notAFingerprint }
            if let earlier = opened, earlier.device != result.device {
                throw SealingError.otherDevice(expected: earlier.device, got: result.device)
            }
            action.contents[index].transport?.fingerprint = fingerprint
            opened = result
        }
        return opened
    }

    /// The answer's fingerprint as our offer requires: encrypted by the device we encrypted
    /// ours for, and encrypted at all when ours was (Conversations refuses a clear one then).
    func openAnswer(_ answer: inout JingleAction, for call: ActiveCall, from peer: JID) async throws {
        if let opened = try await openFingerprints(&answer, from: peer) {
            if let expected = call.sealingDevice, opened.device != expected {
                throw SealingError.otherDevice(expected: expected, got: opened.device)
            }
            call.openedTheirs = opened
            noteProtection(call)
        } else if call.sealedOurs {
            throw SealingError.notProtected
        }
    }

    /// Both fingerprints went through OMEMO with one device of the peer: the call says so.
    func noteProtection(_ call: ActiveCall) {
        guard call.sealedOurs, let theirs = call.openedTheirs, theirs.device == call.sealingDevice else { return }
        call.info.protection = FingerprintProtection(device: theirs.device, verified: theirs.verified)
    }
}
