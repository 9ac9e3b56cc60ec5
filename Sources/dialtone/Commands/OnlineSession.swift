import DialtoneCore
import Foundation
import Synchronization

/// For subcommands that do one thing on the server and leave (accept a request, add a
/// contact): connects, waits to be online, runs `body`, waits until the server has taken what
/// it sent, and disconnects. A connection that does not come within `timeout` seconds fails
/// with the last reason the client gave.
func withOnlineSession<T: Sendable>(_ session: AccountSession, timeout: Double = 30,
                                    _ body: @escaping @Sendable (AccountSession) async throws -> T) async throws -> T {
    let events = await session.events()
    await session.start()
    let lastFailure = RetryReason()
    let outcome: Result<T, CLIError> = await withTaskGroup(of: Result<T, CLIError>?.self) { group in
        group.addTask {
            for await event in events {
                switch event {
                case .connection(.online):
                    do {
                        let value = try await body(session)
                        try await session.settle()
                        return .success(value)
                    } catch let error as CLIError {
                        return .failure(error)
                    } catch {
                        return .failure(CLIError(String(describing: error)))
                    }
                case .connection(.offline(let reason?)):
                    return .failure(CLIError(reason))
                case .connection(.waitingToReconnect(let reason, _)):
                    lastFailure.set(reason)
                default:
                    continue
                }
            }
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: .seconds(timeout))
            let reason = lastFailure.get()
            return .failure(CLIError((reason.map { "\($0) " } ?? "") + "Not done within \(Int(timeout)) s."))
        }
        let first = await group.next() ?? nil
        group.cancelAll()
        return first ?? .failure(CLIError("The session ended before it was online."))
    }
    await session.stop()
    return try outcome.get()
}

/// The reason the session is retrying, shared between the event task and the timeout.
final class RetryReason: Sendable {
    private let reason = Mutex<String?>(nil)
    func set(_ value: String?) { reason.withLock { $0 = value } }
    func get() -> String? { reason.withLock { $0 } }
}
