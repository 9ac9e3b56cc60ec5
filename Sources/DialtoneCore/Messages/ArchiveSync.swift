import DialtoneStore
import DialtoneXMPP
import Logging

/// Catching up on the server's archive (XEP-0313) after each fresh session, from the last
/// message stored, and the archive cursor that says how far history is complete.
///
/// The cursor only ever names a point with no gap before it: archive pages move it as they
/// are stored; a live message moves it only when no catch-up is paging, else it is remembered
/// and applied when the last catch-up ends.
final class ArchiveSync: AccountFeature {
    let store: Store
    let client: XMPPClient
    let logger: Logger
    /// A count, not a flag: catch-ups of two sessions may overlap, and the first to end must
    /// not let live messages move the cursor while the other is still paging.
    private var catchUpsRunning = 0
    private var liveCursorDuringCatchUp: String?
    /// Cursors of bound sessions whose catch-up has not started yet.
    private var waiting: [String?] = []

    init(store: Store, client: XMPPClient, logger: Logger) {
        self.store = store
        self.client = client
        self.logger = logger
    }

    /// A fresh session's catch-up starts from the cursor as it is at the bind, and counts as
    /// running from then on: a live message stored before its first page must not move the
    /// cursor past the gap.
    func sessionBound(resumed: Bool) throws {
        guard !resumed else { return }
        let from = try store.archiveCursor
        if catchUpsRunning == 0 { liveCursorDuringCatchUp = nil }
        catchUpsRunning += 1
        waiting.append(from)
    }

    nonisolated(nonsending) func sessionStarted(resumed: Bool) async {
        guard !resumed, !waiting.isEmpty else { return }
        let from = waiting.removeFirst()
        defer { catchUpsRunning -= 1 }
        await catchUp(from: from)
    }

    /// The cursor to store with a batch whose newest live archive id is `live`: none while a
    /// catch-up is paging (the gap before it is not filled yet; it is applied at the end).
    func cursorToStore(withLive live: String?) -> String? {
        guard catchUpsRunning > 0 else { return live }
        if let live { liveCursorDuringCatchUp = live }
        return nil
    }

    /// Pages forward from `cursor` (or takes the newest page when there is none) until the
    /// archive says it is complete. The pages' messages arrive as events and are stored by
    /// the messaging feature before each page's request returns.
    private nonisolated(nonsending) func catchUp(from cursor: String?) async {
        do {
            var after = cursor
            var total = 0
            while true {
                let page: XMPPClient.ArchivePage
                do {
                    page = try await client.fetchArchivePage(after: after, newestFirst: after == nil)
                } catch let error as StanzaError where error.condition == "item-not-found" && after != nil {
                    // The archive no longer knows our cursor (expired, or a new server):
                    // start again from its newest page rather than never catching up.
                    logger.warning("archive cursor \(after ?? "") unknown to the server; fetching the newest page")
                    after = nil
                    continue
                }
                total += page.count
                if let last = page.last {
                    try store.setArchiveCursor(last)
                }
                if page.complete || page.count == 0 || after == nil { break }
                after = page.last
            }
            // Only the last catch-up to end knows no gap remains before the live messages.
            if catchUpsRunning == 1, let live = liveCursorDuringCatchUp { try store.setArchiveCursor(live) }
            logger.info("archive catch-up: \(total) messages")
        } catch {
            logger.warning("archive catch-up failed: \(error)")
        }
    }
}
