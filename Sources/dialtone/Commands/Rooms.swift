import ArgumentParser
import DialtoneCore
import Foundation

/// A room's address as typed: room@service, no nick.
func roomAddress(_ text: String) throws -> JID {
    guard let jid = try? JID(text), jid.local != nil, jid.resource == nil else {
        throw CLIError("\(Sanitizer.plain(text)) is not a room's address (room@conference.example.org).")
    }
    return jid
}

struct Join: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Join a group chat and bookmark it: the interface and listen join it at every start, on every device.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Your nick there (default: the bookmark's, or your account's name); a taken one gets \"_\" appended.")
    var nick: String?
    @Option(help: "The room's password, if it has one.") var password: String?
    @Option(help: "Give up after this many seconds.") var timeout: Double = 30
    @Argument(help: "The room's address (room@conference.example.org).") var room: String

    func run() async throws {
        let room = try roomAddress(self.room)
        let session = try CommandRuntime(options).openSession()
        let (nick, password) = (self.nick, self.password)
        let joinedAs = try await withOnlineSession(session, timeout: timeout) { session in
            let joinedAs = try await session.joinRoom(room, nick: nick, password: password)
            // What was said there lately is stored before we go: `history` shows it.
            await session.catchUpRoom(room)
            return joinedAs
        }
        printForPeople("Joined \(room) as \(joinedAs), bookmarked with autojoin.")
    }
}

struct Leave: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Leave a group chat: its bookmark stays without autojoin, so your devices leave it too.")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Give up after this many seconds.") var timeout: Double = 30
    @Argument(help: "The room's address.") var room: String

    func run() async throws {
        let room = try roomAddress(self.room)
        let session = try CommandRuntime(options).openSession()
        try await withOnlineSession(session, timeout: timeout) { try await $0.leaveRoom(room) }
        printForPeople("Left \(room).")
    }
}

struct Rooms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List your group chats: the server's bookmarks, with autojoin and your nick in each.")
    @OptionGroup var options: GlobalOptions
    @Flag(help: "Print JSON lines.") var json = false
    @Flag(help: "Only what is stored here, without connecting.") var offline = false
    @Option(help: "Give up after this many seconds.") var timeout: Double = 30

    func run() async throws {
        let session = try CommandRuntime(options).openSession()
        let rooms: [RoomInfo]
        if offline {
            rooms = try await session.rooms()
        } else {
            rooms = try await withOnlineSession(session, timeout: timeout) { try await $0.refreshBookmarks() }
        }
        if rooms.isEmpty, !json { printForPeople("No group chats. dialtone join ROOM joins one.") }
        for room in rooms {
            if json {
                JSONLines.write(["room": room.jid.description, "nick": room.nick, "name": room.name ?? NSNull(),
                                 "autojoin": room.autojoin, "subject": room.subject ?? NSNull()])
            } else {
                let name = room.name.map { "  \"\(Sanitizer.plain($0))\"" } ?? ""
                printForPeople("\(room.jid)\tas \(Sanitizer.plain(room.nick))\t\(room.autojoin ? "autojoin" : "-")\(name)")
            }
        }
    }
}

struct Moderate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Take down a message in a group chat for everyone, as its moderator (XEP-0425).")
    @OptionGroup var options: GlobalOptions
    @Option(help: "Why; the room shows it in the message's place.") var reason: String?
    @Option(help: "Give up after this many seconds.") var timeout: Double = 30
    @Argument(help: "The room's address.") var room: String
    @Argument(help: "The message's archive_id (from history ROOM --json).") var id: String

    func run() async throws {
        let room = try roomAddress(self.room)
        let session = try CommandRuntime(options).openSession()
        let history = try Contacts.run { try session.records.history(peer: room.description, limit: 5000) }
        guard let message = history.last(where: { $0.archiveID == id && $0.retractedAt == nil }), let rowID = message.id else {
            throw CLIError("No message in \(room) has the archive_id \(Sanitizer.plain(id)) (history \(room) --json lists them).")
        }
        let reason = self.reason
        try await withOnlineSession(session, timeout: timeout) { try await $0.moderateMessage(rowID, reason: reason) }
        printForPeople("\(room) took the message down.")
    }
}
