import COmemo

/// A libomemo-c context with Dialtone's cryptography (OpenSSL): what every key, session and
/// cipher of the library is made in. One per account; not shared between threads (the
/// encryption service that will own it is an actor).
public final class OMEMOContext {
    let pointer: OpaquePointer

    public init() throws(OMEMOError) {
        var created: OpaquePointer?
        guard signal_context_create(&created, nil) == SG_SUCCESS, let created else { throw .library("signal_context_create") }
        var provider = OpenSSLCrypto.provider()
        guard signal_context_set_crypto_provider(created, &provider) == SG_SUCCESS else {
            signal_context_destroy(created)
            throw .library("signal_context_set_crypto_provider")
        }
        pointer = created
    }

    deinit { signal_context_destroy(pointer) }
}

public enum OMEMOError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A call into libomemo-c failed.
    case library(String)
    /// A payload that does not decrypt, or fails its authentication: damaged, or not for us.
    case badPayload
    /// A key in a bundle that is no key of its version.
    case badKey
    /// A bundle whose signed pre-key's signature is not its identity's, or that the library
    /// refused otherwise.
    case badBundle
    /// The ratchet could not decrypt a message's key: damaged, replayed, or from a session we
    /// no longer have (a session repair is due).
    case undecryptable
    /// The message's key was decrypted before (by this device: here, or by another process
    /// of the account sharing its sessions). Not a broken session.
    case duplicate

    public var description: String {
        switch self {
        case .library(let call): "The encryption library failed (\(call))."
        case .badPayload: "The encrypted message is damaged or was not encrypted for this device."
        case .badKey: "A key in the contact's published bundle is malformed."
        case .badBundle: "The contact's published bundle is not signed by its own identity."
        case .undecryptable: "The message could not be decrypted: damaged, repeated, or from a broken session."
        case .duplicate: "The message was decrypted before."
        }
    }
}
