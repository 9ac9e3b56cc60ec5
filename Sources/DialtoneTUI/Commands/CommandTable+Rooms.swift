/// Group chats (XEP-0045).
extension CommandTable {
    static let rooms: [CommandSpec] = [
        CommandSpec(.join, CommandArguments.word("ROOM").then(CommandArguments.word("NICK").optional()),
                    synopsis: "Join a group chat (as NICK), and open it.",
                    help: "ROOM is the room's address (room@conference.example.org). It is bookmarked with autojoin, so you are in it at every start, on every device; a taken nick gets \"_\" appended.") {
            $0.join($1.0, nick: $1.1)
        },
        CommandSpec(.leave, CommandArguments.word("ROOM").optional(), synopsis: "Leave a group chat (the one in view without ROOM).",
                    help: "Its history stays; its bookmark stays without autojoin.") { $0.leave($1) },
        CommandSpec(.nick, .word("NICK"), synopsis: "Change your nick in the group chat in view.",
                    help: "The room says yes (and everyone sees the change) or that the nick is taken.") { $0.changeNick($1) },
        CommandSpec(.topic, .optionalText("TEXT"), synopsis: "Show the subject of the group chat in view, or set it.",
                    help: "Rooms let their moderators set it, some every participant.") { $0.topic($1?.isEmpty == false ? $1 : nil) },
        CommandSpec(.invite, .recipientAndText("WHO", "REASON"), synopsis: "Invite someone to the group chat in view.",
                    help: "WHO is an address or a contact's name; the invitation (XEP-0249) says which room, and REASON if given.") {
            $0.invite($1.recipient, reason: $1.text.isEmpty ? nil : $1.text)
        },
        CommandSpec(.kick, CommandArguments.word("NICK", quoted: true).then(.optionalText("REASON")),
                    synopsis: "Remove someone from the group chat in view (a moderator's right).",
                    help: "They may come back; REASON is shown to everyone.") { $0.kick($1.0, reason: $1.1) },
        CommandSpec(.ban, CommandArguments.word("NICK | ADDRESS", quoted: true).then(.optionalText("REASON")),
                    synopsis: "Ban someone from the group chat in view (an admin's right).",
                    help: "By nick when the room shows you their address, else by address.") { $0.ban($1.0, reason: $1.1) },
        CommandSpec(.voice, CommandArguments.word("NICK", quoted: true).then(CommandArguments.choice(["on", "off"]).optional()),
                    synopsis: "Give someone voice in a moderated group chat, or take it (off).",
                    help: "A moderator's right; visitors may read but not speak.") { $0.voice($1.0, granted: $1.1 != "off") },
        CommandSpec(.moderate, CommandArguments.number("N").then(.optionalText("REASON")),
                    synopsis: "Take down the Nth newest message (1 is the last) in the group chat in view, for everyone.",
                    help: "Message moderation (XEP-0425), a moderator's right where the room offers it; REASON is shown in its place.") {
            $0.moderate(message: $1.0, reason: $1.1)
        },
        CommandSpec(.configure, .none, synopsis: "Configure the group chat in view (as its owner): name, members only, password…",
                    help: "Its form opens as a command's does: /field N VALUE, then /complete sends it or /cancel.") { app, _ in
            app.configureRoom()
        },
        CommandSpec(.who, .none, synopsis: "List who is in the group chat in view.",
                    help: "Nicks with their roles and affiliations; Esc closes.") { app, _ in app.showOccupants() },
    ]
}
