import DialtoneStore
import DialtoneXMPP
import Foundation
import Logging

/// What we do in rooms besides talking: our nick and the subject, a moderator's and an
/// admin's acts, invitations, and asking quiet rooms whether they still have us.
extension GroupChatService {
    /// Asks `room` to call us `nick`; the room's answer (status 303) changes it here.
    nonisolated(nonsending) func changeNick(in room: JID, to nick: String) async throws {
        guard directory.isJoined(room) else { throw GroupChatError.notJoined(room.bare.description) }
        try await client.send(.roomNickChange(occupantAddress(room.bare, nick)))
    }

    /// Sets the subject of `room` (the room refuses when our role may not).
    nonisolated(nonsending) func setSubject(_ subject: String, of room: JID) async throws {
        guard directory.isJoined(room) else { throw GroupChatError.notJoined(room.bare.description) }
        try await client.send(.roomSubject(subject, room: room))
    }

    /// A moderator's act on an occupant: `role` "none" kicks, "participant" gives voice,
    /// "visitor" takes it away. The room refuses (a thrown error) when our role may not.
    nonisolated(nonsending) func setRole(_ role: String, of nick: String, in room: JID, reason: String?) async throws {
        guard directory.isJoined(room) else { throw GroupChatError.notJoined(room.bare.description) }
        _ = try await client.request(.iq(.set, id: newStanzaID(), to: room.bare,
                                         payload: .roomAdminItem(nick: nick, role: role, reason: reason)))
    }

    /// Bans `who` (an occupant's nick, whose address the room shows us, or an address) from
    /// `room`: affiliation outcast (XEP-0045 §9.1).
    nonisolated(nonsending) func ban(_ who: String, from room: JID, reason: String?) async throws {
        guard directory.isJoined(room) else { throw GroupChatError.notJoined(room.bare.description) }
        let address: JID
        if let occupant = occupants[room.bare]?[who] {
            guard let jid = occupant.jid else { throw GroupChatError.addressUnknown(nick: who, room: room.bare.description) }
            address = jid
        } else if let jid = try? JID(who), jid.local != nil {
            address = jid
        } else {
            throw GroupChatError.addressUnknown(nick: who, room: room.bare.description)
        }
        _ = try await client.request(.iq(.set, id: newStanzaID(), to: room.bare,
                                         payload: .roomAdminItem(jid: address, affiliation: "outcast", reason: reason)))
    }

    /// A moderator's removal of `message` (one of `room`'s, by the room's id for it) for
    /// everyone (XEP-0425), in the version the room announces. The room refuses when our role
    /// may not; when it agrees, its announcement takes the message down here as everywhere
    /// (an admin may moderate from outside, as Prosody allows; a moderator must be in).
    nonisolated(nonsending) func moderate(_ message: StoredMessage, in room: JID, reason: String?) async throws {
        guard let id = message.archiveID else { throw GroupChatError.notModeratable }
        let features = try await client.features(of: room.bare)
        guard let version = ModerationVersion(roomFeatures: features) else {
            throw GroupChatError.moderationUnsupported(room: room.bare.description)
        }
        _ = try await client.request(.iq(.set, id: newStanzaID(), to: room.bare,
                                         payload: .moderation(ofRoomMessage: id, reason: reason, version: version)))
    }

    /// Invites `invitee` to `room` directly (XEP-0249), as Conversations, Dino and Gajim read it.
    nonisolated(nonsending) func invite(_ invitee: JID, to room: JID, reason: String?) async throws {
        try await client.send(RoomInvitation.direct(to: invitee.bare, room: room, reason: reason))
    }

    // MARK: Self-ping (XEP-0410)

    /// Asks each room we are in, and have not heard from since the last round, whether we are
    /// still there: a room whose service restarted, or that lost us with a broken link between
    /// servers, says nothing, and we would wait for its messages for ever. One that answers
    /// "not an occupant" is joined again.
    nonisolated(nonsending) func pingQuietRooms() async {
        let quiet = directory.joined.filter { !heardFrom.contains($0.key) }
        heardFrom = []
        for (room, nick) in quiet.sorted(by: { $0.key.description < $1.key.description }) {
            do {
                _ = try await client.request(.roomSelfPing(occupantAddress(room, nick)), timeout: .seconds(30))
                continue
            } catch let error as StanzaError where ["service-unavailable", "feature-not-implemented"].contains(error.condition) {
                // Our own client (another of our devices under this nick) does not answer
                // pings: the room routed it to an occupant, so we are in.
                continue
            } catch let error as StanzaError where ["not-acceptable", "item-not-found"].contains(error.condition) {
                guard directory.nick(in: room) == nick else { continue }
                logger.info("\(room) no longer has us (\(error.condition)); joining again")
            } catch {
                // Our server or the link to the room's is in trouble, or no answer came:
                // nothing is known; the next round asks again.
                continue
            }
            directory.setJoined(room, nick: nil)
            occupants[room] = nil
            broadcaster.publish(.room(.left(room: room.description, reason: "dropped by the room")))
            let record = try? store.room(room.description)
            await startJoin(room, nick: nick, password: record?.password)
        }
    }
}
