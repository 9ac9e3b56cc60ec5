import DialtoneCore
import Foundation

/// Drives one call from the command line: prints its states, sends its digits, hangs up on
/// time or on SIGINT/SIGTERM, and turns its outcome into the exit status. `answer` waits on
/// several accounts at once and takes the first call on any of them; `call` has one.
struct CallRunner: Sendable {
    let sessions: [AccountSession]
    let json: Bool
    let duration: Double?
    let timeout: Double
    let dtmf: [DialString.Step]
    var busyWhileInCall = false

    enum Incoming: Sendable { case answer, ask }

    /// An event of one of the accounts, by its place in `sessions`.
    private struct AccountEvent: Sendable {
        var account: Int
        var event: CoreEvent
    }

    func run(place: @escaping @Sendable (AccountSession) async throws -> String) async throws {
        try await drive(incoming: nil, place: place)
    }

    func run(incoming: Incoming) async throws {
        try await drive(incoming: incoming, place: nil)
    }

    private func drive(incoming: Incoming?, place: (@Sendable (AccountSession) async throws -> String)?) async throws {
        let sessions = self.sessions
        let stop = SignalWaiter.waitForTermination()
        let printers = sessions.map { session in
            EventPrinter(json: json, account: session.account.description, names: { [session] in try? session.displayNames() },
                         labelled: sessions.count > 1)
        }
        let events = await Self.merged(sessions)
        for session in sessions { await session.start() }
        let outcome: Result<(account: Int, info: CallInfo), CLIError> = await withTaskGroup(
            of: Result<(account: Int, info: CallInfo), CLIError>?.self) { group in
            group.addTask {
                var active: Int?
                var callID: String?
                var connected = false
                var failures: [Int: String] = [:]
                for await item in events {
                    let (index, event) = (item.account, item.event)
                    let session = sessions[index]
                    if case .connection = event { printers[index].print(event) }
                    switch event {
                    case .connection(.online) where callID == nil && place != nil:
                        do {
                            callID = try await place?(session)
                            active = index
                        } catch {
                            return .failure(CLIError("\(error)"))
                        }
                    case .connection(.offline(let reason?)) where !connected:
                        // One account that cannot connect ends the wait only when it was the
                        // call's, or when none is left to take one.
                        failures[index] = reason
                        if index == active || failures.count == sessions.count {
                            let why = sessions.count == 1 ? reason : failures.sorted { $0.key < $1.key }
                                .map { "\(sessions[$0.key].account.bare): \($0.value)" }.joined(separator: "\n")
                            return .failure(CLIError(why))
                        }
                    case .call(let info):
                        let ringing = info.direction == .incoming && info.state == .incoming
                        if callID == nil, incoming != nil, ringing {
                            (active, callID) = (index, info.id)
                            printers[index].print(event)
                            if incoming == .ask, await !Self.askToAnswer(info) {
                                try? await session.callControl.decline(info.id)
                                continue
                            }
                            do { try await session.callControl.answer(info.id) } catch {
                                return .failure(CLIError("\(error)"))
                            }
                            continue
                        }
                        guard index == active, info.id == callID else {
                            // One call at a time here. With --busy another caller hears busy (on
                            // all that account's devices); otherwise it may ring on one of them.
                            if ringing, busyWhileInCall { try? await session.callControl.decline(info.id, busy: true) }
                            continue
                        }
                        printers[index].print(event)
                        if info.state == .connected && !connected {
                            connected = true
                            startScript(for: info.id, on: session)
                        }
                        if info.state == .ended { return .success((index, info)) }
                    case .callDigit(let id, _) where index == active && id == callID:
                        printers[index].print(event)
                    default:
                        continue
                    }
                }
                return .failure(CLIError("The session ended during the call."))
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(timeout))
                // Only a call that never connected times out here.
                var connected = false
                for session in sessions where await session.callControl.activeCalls.contains(where: { $0.state == .connected }) {
                    connected = true
                }
                if connected { try? await Task.sleep(for: .seconds(86_400 * 365)) }
                return Task.isCancelled ? nil : .failure(CLIError("No call connected within \(Int(timeout)) s."))
            }
            group.addTask {
                // Cancelling the waiter ends it: the group must not wait for a signal forever.
                await withTaskCancellationHandler { await stop.value } onCancel: { stop.cancel() }
                if Task.isCancelled { return nil }
                await Self.hangUpAll(sessions)
                // The first task reports the ended state; this one only asks for it.
                try? await Task.sleep(for: .seconds(5))
                return Task.isCancelled ? nil : .failure(CLIError("Interrupted."))
            }
            var result: Result<(account: Int, info: CallInfo), CLIError>?
            while result == nil, let next = await group.next() { result = next }
            group.cancelAll()
            return result ?? .failure(CLIError("interrupted"))
        }
        if case .success(let ended) = outcome {
            await printStatistics(ended.info, from: sessions[ended.account])
        }
        await Self.hangUpAll(sessions)
        for session in sessions { await session.stop() }
        switch outcome {
        case .failure(let error): throw error
        case .success(let ended):
            let info = ended.info
            guard info.outcome == .completed else { throw CLIError(sentence("The call ended: \(info.reason ?? info.outcome?.rawValue ?? "failed")")) }
        }
    }

    /// Every account's events in one stream, in the order they come.
    private static func merged(_ sessions: [AccountSession]) async -> AsyncStream<AccountEvent> {
        let (stream, continuation) = AsyncStream<AccountEvent>.makeStream()
        var feeds: [Task<Void, Never>] = []
        for (index, session) in sessions.enumerated() {
            let events = await session.events()
            feeds.append(Task {
                for await event in events { continuation.yield(AccountEvent(account: index, event: event)) }
            })
        }
        let all = feeds
        Task {
            for feed in all { await feed.value }
            continuation.finish()
        }
        return stream
    }

    private static func hangUpAll(_ sessions: [AccountSession]) async {
        for session in sessions {
            for call in await session.callControl.activeCalls { try? await session.callControl.hangUp(call.id) }
        }
    }

    private func printStatistics(_ info: CallInfo, from session: AccountSession) async {
        let statistics = await session.callControl.statistics(info.id)
        if json {
            var object: [String: Any] = ["type": "statistics", "call": info.id, "outcome": info.outcome?.rawValue ?? "ended",
                                         "account": session.account.description]
            if let duration = info.duration() { object["duration"] = (duration * 1000).rounded() / 1000 }
            if let statistics {
                object["codec"] = statistics.codec
                object["packets_sent"] = Int(statistics.packetsSent)
                object["packets_received"] = Int(statistics.packetsReceived)
                object["packets_lost"] = Int(statistics.packetsLost)
                object["jitter_ms"] = statistics.jitterMilliseconds
                if let rtt = statistics.roundTripMilliseconds { object["rtt_ms"] = rtt }
            }
            JSONLines.write(object)
        } else if let statistics {
            print("-- \(statistics.packetsSent) packets sent, \(statistics.packetsReceived) received, \(statistics.packetsLost) lost")
        }
    }

    /// DTMF steps, then the hang-up when a duration was given.
    private func startScript(for id: String, on session: AccountSession) {
        let steps = dtmf
        let duration = self.duration
        Task {
            for step in steps {
                switch step {
                case .pause(let seconds): try? await Task.sleep(for: .seconds(seconds))
                case .waitForUser: _ = await StandardInput.line()
                case .digits(let digits): _ = try? await session.callControl.sendDTMF(id, digits: digits)
                }
            }
        }
        if let duration {
            Task {
                try? await Task.sleep(for: .seconds(duration))
                try? await session.callControl.hangUp(id)
            }
        }
    }

    private static func askToAnswer(_ info: CallInfo) async -> Bool {
        FileHandle.standardError.write(Data("Answer the call from \(Sanitizer.plain(info.peer.description))? [Y/n] ".utf8))
        let reply = await StandardInput.line()?.trimmingCharacters(in: .whitespaces).lowercased() ?? "n"
        return reply.isEmpty || reply.hasPrefix("y")
    }
}
