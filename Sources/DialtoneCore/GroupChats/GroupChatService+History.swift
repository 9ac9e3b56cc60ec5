import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// A room's history from its archive (XEP-0313 on the room): the catch-up after each join
/// (first, before the join presence, for a join the user asked for), and the cursor that
/// says where it ends.
extension GroupChatService {
    /// A room's history at the first visit: its newest messages, a screenful or two, then
    /// the ones before them.
    static let firstPage = 50
    static let earlierPage = 200

    /// After a batch is stored: each room's archive cursor moves to its newest live message.
    func batchStored() {
        guard !liveCursors.isEmpty else { return }
        for (room, cursor) in liveCursors { try? store.setRoomArchiveCursor(cursor, of: room.description) }
        liveCursors = [:]
    }

    /// What we missed in `room` since we were last there, from its archive (the newest page
    /// the first time), stored as its pages come. With one under way, waits for it (a
    /// command that joins and leaves); `again` then asks once more from where it ended (the
    /// join after a history-first query: what was said between the two).
    nonisolated(nonsending) func catchUp(_ room: JID, again: Bool = false) async {
        if catchingUp.contains(room) {
            await withCheckedContinuation { catchUpWaiters[room, default: []].append($0) }
            guard again, !catchingUp.contains(room) else { return }
        }
        catchingUp.insert(room)
        await fetchHistory(of: room)
    }

    /// The catch-up of a history-first join (`beginJoinWithHistory` claimed the room): the
    /// join presence goes right behind the first archive query.
    nonisolated(nonsending) func catchUpJoining(_ room: JID) async {
        await fetchHistory(of: room, joining: joining[room])
    }

    /// Where the archive of `room` is read up to: with the room, or until it is stored (the
    /// join not answered yet) held for it; else the catch-up after the join starts over.
    func keepCursor(_ cursor: String, of room: JID) throws(StoreError) {
        if try store.room(room.description) != nil {
            try store.setRoomArchiveCursor(cursor, of: room.description)
        } else if joining[room] != nil {
            unstoredCursors[room] = cursor
        }
    }

    /// Whether `room`'s archive sends a page newest first when asked (XEP-0313 flip-page,
    /// advertised as "extended"). A room that does not answer at once is asked the usual way.
    private nonisolated(nonsending) func flipsPages(_ room: JID) async -> Bool {
        guard let features = try? await client.features(of: room, timeout: .seconds(2)) else { return false }
        askedFeatures[room] = features
        return features.contains(Namespace.mamExtended)
    }

    private nonisolated(nonsending) func fetchHistory(of room: JID, joining join: PendingJoin? = nil) async {
        defer {
            catchingUp.remove(room)
            for waiter in catchUpWaiters.removeValue(forKey: room) ?? [] { waiter.resume() }
        }
        var after = (try? store.room(room.description))?.archiveCursor
        var total = 0
        var follower = join
        // A first visit wants the newest message on screen first: the page newest first,
        // where the room's archive can turn one (one question before, and none if it cannot).
        let flipped = after == nil ? await flipsPages(room) : false
        if let join, flipped {
            // The join may have ended, or a new session begun, while the room was asked.
            follower = joining[room].flatMap { $0.session == join.session ? $0 : nil }
        }
        do {
            while true {
                // A first visit shows a screenful as soon as it can; the rest follows.
                if after == nil, flipped { newestFirst[room] = NewestFirstPage() }
                let page = try await client.fetchArchivePage(
                    after: after, newestFirst: after == nil, flipped: after == nil && flipped,
                    pageSize: after == nil ? Self.firstPage : 250, room: room,
                    followedBy: follower.map { .roomJoin(occupantAddress(room, $0.nick), password: $0.password, maxStanzas: 0) })
                newestFirst[room] = nil
                follower = nil
                total += page.count
                let held = heldReferences.removeValue(forKey: room) ?? []
                var earlierFailed: (any Error)?
                if after == nil, !page.complete, page.count == Self.firstPage, let first = page.first {
                    // The page before the newest: scrolling back needs no server for a while.
                    earlierThan[room] = try store.message(referencedAs: first, in: room.description)?.timestamp
                    defer { earlierThan[room] = nil }
                    do {
                        total += try await client.fetchArchivePage(after: nil, before: first, pageSize: Self.earlierPage, room: room).count
                    } catch {
                        earlierFailed = error
                    }
                }
                // What the newest page held back, oldest first, now that what it refers to is
                // stored; and only then is the page read (a failure before reads it again).
                if !held.isEmpty { try await storeHeld(held.reversed()) }
                if let last = page.last { try keepCursor(last, of: room) }
                if let earlierFailed { throw earlierFailed }
                if page.complete || page.count == 0 || after == nil { break }
                after = page.last
            }
            logger.info("room archive catch-up of \(room): \(total) messages")
        } catch {
            // A page that ended early: nothing of it is placed or held any longer.
            newestFirst[room] = nil
            heldReferences[room] = nil
            if follower != nil, case XMPPConnectionError.notConnected = error {
                // Offline, or the session ended under the query: the join is lost with it.
                finishJoin(room, with: .failure(GroupChatError.joinRefused(room: room.description, condition: "not connected")))
            }
            // Otherwise the join went behind the query (a room that keeps no archive, or
            // shows it to members alone): the room answers it, and the catch-up after the
            // join asks again.
            logger.info("room archive of \(room) not caught up: \(error)")
        }
    }
}

/// The messages of a page that comes newest first, in the order they arrive: each must sort
/// before the one that came before it. Archive stamps are whole seconds, and history sorts by
/// time and then by arrival, so one stamped the same as the one before it is put a
/// millisecond before that one. A page that turns out not to be newest first (a stamp later
/// than the one before) is left as it comes from there on; a run of equal stamps at its start
/// cannot tell, and reads backwards.
struct NewestFirstPage {
    private var previousStamp: Date?
    private var previousPlaced: Date?
    private var inOrder = true

    /// The time to store a message stamped `stamp` under, the next of the page to arrive.
    mutating func place(_ stamp: Date) -> Date {
        guard inOrder else { return stamp }
        defer { previousStamp = stamp }
        if let previousStamp, stamp > previousStamp {
            inOrder = false
            return stamp
        }
        var placed = stamp
        if let previousPlaced, placed >= previousPlaced { placed = previousPlaced.addingTimeInterval(-0.001) }
        previousPlaced = placed
        return placed
    }
}

extension Message {
    /// Whether it changes or answers another message, which must be stored before it.
    var refersToAnother: Bool {
        moderation != nil || retractID != nil || reactions != nil || replaceID != nil || reply != nil
    }
}
