/// Calls.
extension CommandTable {
    static let calls: [CommandSpec] = [
        CommandSpec(.call, .text("TO", completion: .recipient), synopsis: "Call an address, a contact or a phone number.",
                    help: "Digits after the number are dialled once connected: \"/call +1 800 555 1234,,1234#\" (each comma waits 2 s; a semicolon stops for you to type the rest). While connected, digits typed on an empty line are sent as DTMF at once (Alt-k turns the keypad off).",
                    hint: "an address, a contact or a phone number") { $0.placeCall($1) },
        CommandSpec(.answer, .none, synopsis: "Answer the ringing call (Alt-a).",
                    help: "While in another call, that call ends first.") { app, _ in app.answer() },
        CommandSpec(.decline, CommandArguments.choice(["busy"]).optional(), synopsis: "Decline the ringing call (Alt-d).",
                    help: "\"busy\" tells the caller you are in another call (Alt-d does so when you are).") { $0.decline(busy: $1 != nil) },
        CommandSpec(.hangup, .none, synopsis: "End the call (Alt-h).", help: "Also cancels a call still ringing.") { app, _ in app.hangUp() },
        CommandSpec(.mute, .none, synopsis: "Mute your microphone (Alt-m toggles).", help: "The other side hears silence and is told.") { app, _ in
            app.setMuted(true)
        },
        CommandSpec(.unmute, .none, synopsis: "Unmute your microphone.", help: "See /mute.") { app, _ in app.setMuted(false) },
        CommandSpec(.hold, .none, synopsis: "Put the call on hold, or take it off.", help: "Silence both ways until /hold again.") { app, _ in
            app.setHeld(nil)
        },
        // Spaces between digits are allowed ("/dtmf 1 2 3#"), as on the keypad.
        CommandSpec(.dtmf, CommandArguments.text("DIGITS").map { $0.filter { !$0.isWhitespace } }, synopsis: "Send DTMF digits (0-9 * # A-D).",
                    help: "As RFC 4733 telephone events, for phone menus. On an empty line, typing digits does the same.") { $0.sendDigits($1) },
        CommandSpec(.device, CommandArguments.choice(["capture", "playback"]).then(.word("PCM")),
                    synopsis: "Move the call's audio to another ALSA device.",
                    help: "PCM is an ALSA name, such as default or plughw:CARD=Headset. `dialtone audio devices` lists them.") {
            $0.switchDevice(capture: $1.0 == "capture", to: $1.1)
        },
        CommandSpec(.calls, .none, synopsis: "Show the call log.", help: "Incoming, outgoing and missed calls, newest last; Esc closes.") { app, _ in
            app.showCallLog()
        },
    ]
}
