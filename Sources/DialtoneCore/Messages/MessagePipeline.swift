import DialtoneXMPP
import Logging

/// A step every outgoing message takes on its way to the wire, each time it goes: a resend
/// after a dropped connection passes again, built afresh from the outbox's values. Encryption
/// is meant to be one (it must encrypt for the devices known at the time of sending).
///
/// Stages are owned by their account's session and run on its actor, like features.
protocol OutgoingStage: AnyObject {
    /// Changes `stanza`, built from `message`, before it is sent. Throwing keeps the message in
    /// the outbox unsent (the error is logged; the next flush tries again).
    nonisolated(nonsending) func prepare(_ stanza: inout Message, for message: OutgoingMessage) async throws
    /// A file for `peer` encrypted before it is uploaded, when the message that shares it
    /// will be (XEP-0454); nil when it goes as it is.
    nonisolated(nonsending) func sealFile(_ file: [UInt8], to peer: JID) async throws -> SealedFile?
}

extension OutgoingStage {
    nonisolated(nonsending) func sealFile(_ file: [UInt8], to peer: JID) async throws -> SealedFile? { nil }
}

/// A file encrypted for sharing: what is uploaded, and how its link is made from the upload's
/// (another scheme, and a fragment with the key, which never reaches the server).
struct SealedFile: Sendable {
    var upload: [UInt8]
    var scheme: String
    var fragment: String
}

/// A step every received message takes before it is interpreted and stored (decryption is
/// meant to be one). It returns the message to go on with, or nil for a stanza that was for
/// the stage alone (a key exchange without text).
protocol IncomingStage: AnyObject {
    nonisolated(nonsending) func process(_ received: ReceivedMessage) async throws -> ReceivedMessage?
}

/// The stages of one account's messages, both ways, in order.
struct MessagePipeline {
    var outgoing: [any OutgoingStage] = []
    var incoming: [any IncomingStage] = []

    /// A file encrypted by the first stage that wants it so; nil when none does.
    nonisolated(nonsending) func sealFile(_ file: [UInt8], to peer: JID) async throws -> SealedFile? {
        for stage in outgoing { if let sealed = try await stage.sealFile(file, to: peer) { return sealed } }
        return nil
    }

    /// The stanza for `message` after every outgoing stage.
    nonisolated(nonsending) func stanza(for message: OutgoingMessage) async throws -> Message {
        var stanza = message.stanza()
        for stage in outgoing { try await stage.prepare(&stanza, for: message) }
        return stanza
    }

    /// A batch after every incoming stage. A stage that fails on a message passes it on as
    /// it came: what was received is stored rather than lost (what could not be read says so
    /// once decryption exists, instead of vanishing).
    nonisolated(nonsending) func process(_ batch: [ReceivedMessage], logger: Logger) async -> [ReceivedMessage] {
        guard !incoming.isEmpty else { return batch }
        var result: [ReceivedMessage] = []
        result.reserveCapacity(batch.count)
        for original in batch {
            var current: ReceivedMessage? = original
            for stage in incoming {
                guard let message = current else { break }
                do { current = try await stage.process(message) } catch {
                    logger.warning("an incoming stage failed on message \(message.message.id ?? "?"): \(error)")
                }
            }
            if let current { result.append(current) }
        }
        return result
    }
}
