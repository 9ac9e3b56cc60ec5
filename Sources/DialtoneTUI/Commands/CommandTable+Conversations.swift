/// Conversations, the address book and files.
extension CommandTable {
    static let conversations: [CommandSpec] = [
        CommandSpec(.msg, .recipientAndText("TO", "TEXT"), synopsis: "Open a conversation, and send TEXT if given.",
                    help: "TO is an address, a contact's name, or a phone number in any common form; numbers go through the account's gateway.") {
            $0.message(to: $1.recipient, text: $1.text)
        },
        CommandSpec(.group, .list("TO", minimum: 2, completion: .recipientList), synopsis: "Open a group text with several people.",
                    help: "Each TO is an address, a contact's name or a phone number, separated by commas.",
                    hint: "a group text needs at least two people") { $0.group($1) },
        CommandSpec(.close, .none, synopsis: "Close the open conversation.",
                    help: "Removes it from the list; its history stays and it comes back when someone writes.") { app, _ in app.closeConversation() },
        CommandSpec(.search, .text("WORDS"), synopsis: "Search all stored messages.",
                    help: "Shows the newest messages containing WORDS, with their conversations.") { $0.search($1) },
        CommandSpec(.contacts, .none, synopsis: "Show the address book and roster.", help: "Names, numbers and addresses; Esc closes.") { app, _ in
            app.showContacts()
        },
        CommandSpec(.add, CommandArguments.word("NAME", quoted: true).then(.list("ADDRESS", minimum: 1)),
                    synopsis: "Add a person (or more numbers) to the address book.",
                    help: "Quote a name with spaces: /add \"Alice Liddell\" +1 555 123 4567, alice@example.org — an XMPP address also goes in the roster with a request to see their presence.",
                    hint: "quote a name with spaces") { $0.addContact(name: $1.0, addresses: $1.1) },
        CommandSpec(.rename, CommandArguments.word("NAME", quoted: true).then(.word("NEW-NAME", quoted: true)),
                    synopsis: "Rename a person in the address book.",
                    help: "Quote names with spaces: /rename \"Alice Liddell\" \"Alice L.\"",
                    hint: "quote names with spaces") { $0.renameContact($1.0, to: $1.1) },
        CommandSpec(.remove, CommandArguments.text("NAME | ADDRESS", completion: .recipient),
                    synopsis: "Remove a person from the address book and their addresses from the roster.",
                    help: "Leaving the roster ends the presence subscriptions both ways; an address only in the roster leaves it.") {
            $0.removeContact($1)
        },
        CommandSpec(.accept, CommandArguments.word("ADDRESS").optional(),
                    synopsis: "Let someone who asked see your presence (the oldest request without ADDRESS).",
                    help: "They are added to the roster and asked for theirs, as Conversations does; /contacts lists who waits.") {
            $0.answerSubscription($1, accept: true)
        },
        CommandSpec(.deny, CommandArguments.word("ADDRESS").optional(),
                    synopsis: "Refuse a request to see your presence (the oldest without ADDRESS).",
                    help: "Later requests from them are not shown; /add them to change your mind.") {
            $0.answerSubscription($1, accept: false)
        },
        CommandSpec(.correct, CommandArguments.text("TEXT"), synopsis: "Replace the text of your last message here (Up on an empty line starts it).",
                    help: "A correction (XEP-0308): the recipient's client shows the new text in place; the old one stays in history.") {
            $0.correctLast($1)
        },
        CommandSpec(.retract, CommandArguments.number("N").optional(),
                    synopsis: "Take back your last message here (or your Nth newest) for the recipient too.",
                    help: "A retraction (XEP-0424): clients that know it remove the message; its text leaves your history too.") {
            $0.retract($1)
        },
        CommandSpec(.reply, CommandArguments.number("N").then(.text("TEXT")),
                    synopsis: "Answer the Nth newest message here (1 is the last) with TEXT.",
                    help: "A reply (XEP-0461): the recipient's client shows the message answered above yours; others see its first line quoted.") {
            $0.reply(to: $1.0, text: $1.1)
        },
        CommandSpec(.react, CommandArguments.number("N").then(.word("EMOJI")),
                    synopsis: "React to the Nth newest message here (1 is the last); again takes it back.",
                    help: "A reaction (XEP-0444), shown as counts under the message, as phones show them.") {
            $0.react(to: $1.0, with: $1.1)
        },
        CommandSpec(.block, CommandArguments.optionalText("WHO [spam]", completion: .recipient),
                    synopsis: "Block someone (the conversation in view without WHO); \"spam\" at the end also reports them.",
                    help: "An address, a name or a number in any form (blocked at the gateway, which JMP and Cheogram honour). Nothing they send reaches you: messages, calls, requests.") {
            let words = ($1 ?? "").split(separator: " ")
            let spam = words.last == "spam"
            let who = (spam ? words.dropLast() : words[...]).joined(separator: " ")
            $0.block(who.isEmpty ? nil : who, reportingSpam: spam)
        },
        CommandSpec(.unblock, CommandArguments.text("WHO", completion: .recipient), synopsis: "Unblock an address, name or number.",
                    help: "/blocked lists what is blocked.") { $0.unblock($1) },
        CommandSpec(.blocked, .none, synopsis: "List what your server blocks for you.", help: "Esc closes.") { app, _ in app.showBlocked() },
        CommandSpec(.omemo, CommandArguments.choice(["on", "off", "fingerprints", "trust", "distrust"]).then(.optionalText("ARG")),
                    synopsis: "End-to-end encryption (OMEMO) here on or off; list fingerprints; trust or distrust one.",
                    help: "On by default with contacts who have OMEMO devices; phone numbers (SMS) never. /omemo fingerprints [CONTACT] lists their devices and yours; /omemo trust FINGERPRINT verifies a device (compare it with their screen), /omemo distrust FINGERPRINT stops writing to it. A new device of a contact you verified waits until you trust it.",
                    hint: "/omemo on, /omemo fingerprints [CONTACT], /omemo trust FINGERPRINT") { $0.omemo($1.0, $1.1) },
        CommandSpec(.import, .path("PATH"), synopsis: "Import vCard or CSV contacts (a file or a vdir).",
                    help: "As `dialtone contacts import`: importing again changes nothing.") { $0.importContacts(from: $1) },
        CommandSpec(.attach, CommandArguments.file("FILE").then(.quotedText("CAPTION")),
                    synopsis: "Upload a file and send its link here (MMS through a gateway).",
                    help: "Through the server's HTTP upload (XEP-0363); quote a file name with spaces.",
                    hint: "quote a file name with spaces") { $0.attach($1.0, caption: $1.1) },
        CommandSpec(.open, CommandArguments.number("N").optional(), synopsis: "Fetch the newest (or Nth newest) attachment here and open it.",
                    help: "Saved under $XDG_DATA_HOME/dialtone/downloads with the name shown; text (when it is text) opens in $PAGER on this terminal (Dialtone comes back when it exits), anything else with xdg-open. Over plain http, the first /open only saves and warns.") {
            $0.openAttachment($1 ?? 1)
        },
        CommandSpec(.play, CommandArguments.number("N").optional(), synopsis: "Play the newest voicemail or audio attachment here (or the Nth newest).",
                    help: "It is fetched, decoded (WAV, Ogg Opus or Vorbis, FLAC, MP3) and played on the account's playback device; the status bar shows the position. Alt-s or /stop stops it.") {
            $0.play($1 ?? 1)
        },
        CommandSpec(.stop, .none, synopsis: "Stop playing (Alt-s).", help: "See /play.") { app, _ in app.stopPlaying() },
    ]
}
