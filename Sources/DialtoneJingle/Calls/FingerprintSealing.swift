import DialtoneXMPP

/// OMEMO-verified calls as Conversations makes them (its draft
/// "dlts-srtp-verification", which Dino speaks too): the callee's proceed names its OMEMO
/// device, the caller's DTLS fingerprint goes encrypted for that device, and the answer's for
/// the caller's device that encrypted it. A fingerprint that arrives through OMEMO from a
/// device the user verified cannot have been swapped by a server in between, so the call is
/// shown as verified.
///
/// The encryption itself belongs to the account (its OMEMO device, sessions and trust); this
/// is what the call manager asks of it.
public struct FingerprintSealing: Sendable {
    /// A fingerprint decrypted from the peer.
    public struct Opened: Sendable, Equatable {
        /// The fingerprint's text ("AB:CD:…").
        public var fingerprint: String
        /// The peer's device that encrypted it.
        public var device: UInt32
        /// Whether the user verified that device's key.
        public var verified: Bool

        public init(fingerprint: String, device: UInt32, verified: Bool) {
            self.fingerprint = fingerprint
            self.device = device
            self.verified = verified
        }
    }

    /// Our OMEMO device, announced in a proceed to `peer`; nil where OMEMO cannot be used
    /// (turned off, a phone number through the gateway).
    public var ownDevice: @Sendable (_ peer: JID) async -> UInt32?
    /// The fingerprint's text encrypted (legacy OMEMO) for one device of `peer`.
    public var seal: @Sendable (_ fingerprint: String, _ peer: JID, _ device: UInt32) async throws -> OMEMOEncrypted
    /// A fingerprint from `peer` decrypted.
    public var open: @Sendable (_ encrypted: OMEMOEncrypted, _ peer: JID) async throws -> Opened

    public init(ownDevice: @escaping @Sendable (JID) async -> UInt32?,
                seal: @escaping @Sendable (String, JID, UInt32) async throws -> OMEMOEncrypted,
                open: @escaping @Sendable (OMEMOEncrypted, JID) async throws -> Opened) {
        self.ownDevice = ownDevice
        self.seal = seal
        self.open = open
    }
}

/// Why a call's fingerprint exchange is refused: it is a security error for the session.
enum SealingError: Error, CustomStringConvertible {
    case cannotOpen(String)
    case notAFingerprint
    case otherDevice(expected: UInt32, got: UInt32)
    case notProtected

    var description: String {
        switch self {
        case .cannotOpen(let why): "the OMEMO-encrypted DTLS fingerprint could not be decrypted: \(why)"
        case .notAFingerprint: "the OMEMO-encrypted DTLS fingerprint is not a fingerprint"
        case .otherDevice(let expected, let got): "the DTLS fingerprint was encrypted by device \(got), not \(expected)"
        case .notProtected: "the DTLS fingerprint was not OMEMO-encrypted, though ours was"
        }
    }
}
