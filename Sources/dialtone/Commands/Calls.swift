import ArgumentParser
import DialtoneCore
import Foundation

/// The ALSA devices of `call`, `answer` and `audio test`.
struct AudioDeviceOptions: ParsableArguments {
    @Option(help: ArgumentHelp("ALSA capture PCM (default: the account's capture, else \"default\").", valueName: "pcm"))
    var capture: String?

    @Option(help: ArgumentHelp("ALSA playback PCM (default: the account's playback, else \"default\").", valueName: "pcm"))
    var playback: String?

    @Option(help: ArgumentHelp("Look the PCMs up in this asoundrc file instead of the system's ALSA configuration.", valueName: "file"))
    var alsaConfig: String?

    /// The account's media settings with the devices given here.
    func apply(to media: inout CallMediaConfiguration) throws {
        if let capture { media.captureDevice = capture }
        if let playback { media.playbackDevice = playback }
        if let alsaConfig { media.alsaConfiguration = try readALSAConfiguration(alsaConfig) }
    }
}

/// Device and ICE options shared by `call` and `answer`.
struct CallOptions: ParsableArguments {
    @OptionGroup var devices: AudioDeviceOptions

    @Flag(help: "Host candidates on 127.0.0.1 only, no STUN or TURN (not even the server's): for tests on one machine.")
    var iceLoopback = false

    @Flag(help: "One JSON object per line for each state change, digit and the final statistics.")
    var json = false

    func configuration(for account: AccountConfiguration) throws -> CallSettings {
        var calls = account.callConfiguration()
        try devices.apply(to: &calls.media)
        if iceLoopback { calls.useLoopbackOnly() }
        return calls
    }
}

/// What `call` and `answer` do once connected: digits to send, when to hang up.
struct CallScriptOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Hang up after this many seconds connected (default: stay until the other side hangs up).", valueName: "seconds"))
    var duration: Double?

    @Option(help: ArgumentHelp("Send these DTMF digits (0-9, *, #, A-D) once connected.", valueName: "digits"))
    var dtmf: String?

    @Option(help: ArgumentHelp("Wait this long after connecting before the digits.", valueName: "seconds"))
    var dtmfDelay: Double = 1

    func validate() throws {
        try validateSeconds(["--duration": duration, "--dtmf-delay": dtmfDelay])
    }

    /// A dial string's own steps, then --dtmf; the delay comes first whenever there are digits.
    func steps(after dialed: [DialString.Step]) -> [DialString.Step] {
        var steps = dialed
        if let dtmf { steps += [.digits(dtmf)] }
        return steps.isEmpty ? [] : [.pause(seconds: dtmfDelay)] + steps
    }
}

struct PlaceCall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "call",
        abstract: "Call an address, contact or phone number; exits 0 when the call connected and ended normally.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var call: CallOptions

    @Argument(help: "Whom to call: an address, a contact's name, or a phone number, optionally followed by DTMF (\"+18005551234,,1234#\": each comma pauses 2 s).")
    var to: String

    @OptionGroup var script: CallScriptOptions

    @Option(help: ArgumentHelp("Give up when the call has not connected after this many seconds.", valueName: "seconds"))
    var timeout: Double = 60

    func validate() throws {
        try validateSeconds(["--timeout": timeout])
    }

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession(calls: try call.configuration(for: runtime.account))
        let dial = DialString.hasDTMF(to) ? DialString(to) : DialString(number: to, steps: [])
        _ = try parseRecipient(dial.number, in: session)
        let runner = CallRunner(sessions: [session], json: call.json, duration: script.duration, timeout: timeout,
                                dtmf: script.steps(after: dial.steps))
        try await runner.run { session in
            let peer = try await session.resolveRecipient(dial.number)
            return try await session.placeCall(to: peer)
        }
    }
}

struct AnswerCall: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "answer",
        abstract: "Wait for a call and answer it; exits 0 when the call connected and ended normally.",
        discussion: "Every account of the configuration waits for the call at once, unless --account names one.")

    @OptionGroup var options: GlobalOptions
    @OptionGroup var call: CallOptions

    @Flag(help: "Answer the first call at once (otherwise: Enter answers, \"n\" and Enter declines).")
    var auto = false

    @Flag(help: "While in the call, decline other callers as busy (on all your devices) instead of leaving them to ring elsewhere.")
    var busy = false

    @OptionGroup var script: CallScriptOptions

    @Option(help: ArgumentHelp("Give up when no call has connected after this many seconds.", valueName: "seconds"))
    var timeout: Double = 300

    func validate() throws {
        try validateSeconds(["--timeout": timeout])
    }

    func run() async throws {
        let runtime = try CommandRuntime(options)
        // Every account of the configuration waits for the call, unless --account names one.
        let sessions = try runtime.selectedAccounts().map { account in
            try CommandRuntime.openSession(for: account, calls: try call.configuration(for: account))
        }
        var runner = CallRunner(sessions: sessions, json: call.json, duration: script.duration, timeout: timeout,
                                dtmf: script.steps(after: []))
        runner.busyWhileInCall = busy
        try await runner.run(incoming: auto ? .answer : .ask)
    }
}

struct CallLog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calls", abstract: "Print the call log, newest first (no connection needed).")

    @OptionGroup var options: GlobalOptions

    @Option(help: "How many of the newest calls.")
    var limit = 50

    @Flag(help: "Print JSON lines.")
    var json = false

    @Argument(help: "Only calls with this party: an address, a contact's name or a phone number.")
    var with: String?

    func run() async throws {
        let runtime = try CommandRuntime(options)
        let session = try runtime.openSession()
        let peer = try with.map { try conversationAddress($0, in: session) }
        let names = try? session.displayNames()
        for entry in try session.records.calls(peer: peer, limit: limit) {
            let call = entry.call
            if json {
                var object: [String: Any] = ["type": "call", "call": call.id, "peer": entry.peer, "direction": call.direction,
                                             "started": XMPPDateTime.format(call.startedAt)]
                if let outcome = call.outcome { object["outcome"] = outcome }
                if let reason = call.reason { object["reason"] = reason }
                if let connected = call.connectedAt { object["connected"] = XMPPDateTime.format(connected) }
                if let ended = call.endedAt { object["ended"] = XMPPDateTime.format(ended) }
                if let connected = call.connectedAt, let ended = call.endedAt {
                    object["duration"] = (ended.timeIntervalSince(connected) * 1000).rounded() / 1000
                }
                JSONLines.write(object)
            } else {
                let name = Sanitizer.plain(names?.name(for: entry.peer) ?? entry.peer)
                printForPeople("[\(call.startedAt.formatted(date: .abbreviated, time: .shortened))] " + CallText.logLine(call, name: name))
            }
        }
    }
}

/// Durations must be finite and not negative (zero delay is fine; a zero timeout is not).
func validateSeconds(_ values: [String: Double?]) throws {
    for (name, value) in values {
        guard let value else { continue }
        guard value.isFinite, value >= 0, name == "--dtmf-delay" || value > 0 else {
            throw ValidationError("\(name) must be a number of seconds above zero.")
        }
    }
}

/// Lines from standard input without blocking a concurrency thread: each read runs on a
/// thread of its own, and a cancelled waiter returns at once (the read ends with the process).
enum StandardInput {
    static func line() async -> String? {
        let box = LineBox()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                box.set(continuation)
                Thread.detachNewThread { box.resume(readLine()) }
            }
        } onCancel: {
            box.resume(nil)
        }
    }

    /// Resumes its continuation once, whichever comes first: the line or the cancellation.
    final class LineBox: @unchecked Sendable {
        private let lock = NSLock()
        private var continuation: CheckedContinuation<String?, Never>?
        private var early: String??

        func set(_ continuation: CheckedContinuation<String?, Never>) {
            lock.lock()
            if let early {
                lock.unlock()
                continuation.resume(returning: early)
                return
            }
            self.continuation = continuation
            lock.unlock()
        }

        func resume(_ value: String?) {
            lock.lock()
            guard let continuation else {
                if early == nil { early = .some(value) }
                lock.unlock()
                return
            }
            self.continuation = nil
            early = .some(value)
            lock.unlock()
            continuation.resume(returning: value)
        }
    }
}
