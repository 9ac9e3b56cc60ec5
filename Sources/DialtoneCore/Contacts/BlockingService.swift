import DialtoneXMPP
import Logging

/// Blocking (XEP-0191): the server drops what blocked addresses send before it reaches any
/// client of the account; this keeps the list as the server last said, so that anything from
/// a blocked address that reaches us regardless (a server that blocks late, an archive page
/// from before the block) is not shown either.
final class BlockingService: AccountFeature {
    let client: XMPPClient
    let logger: Logger
    /// Bare addresses and whole domains, as the server lists them.
    private(set) var blocked: Set<String> = []

    init(client: XMPPClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// A new session reads the list afresh (a resumed one missed no push).
    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {
        guard !resumed else { return }
        do { blocked = Set(try await client.blockList().map(\.description)) } catch {
            logger.info("the server gave no block list: \(error)")
        }
    }

    func apply(_ change: BlockingChange) {
        switch change {
        case .blocked(let jids): blocked.formUnion(jids.map(\.description))
        case .unblocked(let jids): if jids.isEmpty { blocked = [] } else { blocked.subtract(jids.map(\.description)) }
        }
    }

    /// Whether `jid` (any resource of it, or its whole domain) is blocked.
    func isBlocked(_ jid: JID) -> Bool {
        blocked.contains(jid.bare.description) || blocked.contains(jid.domain) || blocked.contains(jid.description)
    }

    nonisolated(nonsending) func block(_ jids: [JID], reportingSpam: Bool) async throws {
        try await client.block(jids.map(\.bare), reportingSpam: reportingSpam)
        blocked.formUnion(jids.map(\.bare.description))
    }

    nonisolated(nonsending) func unblock(_ jids: [JID]) async throws {
        try await client.unblock(jids.map(\.bare))
        blocked.subtract(jids.map(\.bare.description))
    }

    /// The list as the server has it now.
    nonisolated(nonsending) func list() async throws -> [JID] {
        let jids = try await client.blockList()
        blocked = Set(jids.map(\.description))
        return jids
    }
}
