#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// Waits for keys and window-size changes on a thread of its own, without touching curses:
/// it only learns that standard input is readable (poll) and tells the main actor, which
/// reads the keys with curses itself. Idle, it sleeps in poll — no CPU, no timers.
final class InputWaiter: @unchecked Sendable {
    enum Signal: Sendable { case input, resize, terminate }

    /// The write end of the SIGWINCH self-pipe: writing a byte is all a handler may safely do.
    nonisolated(unsafe) private static var resizeWriteEnd: Int32 = -1

    // Set once in start(), read by the waiting thread; `@unchecked` for these two ends.
    private var resizeReadEnd: Int32 = -1
    private let drained = DispatchSemaphore(value: 0)
    private var thread: Thread?

    /// Installs the SIGWINCH handler; call before initscr so curses leaves the signal to us.
    func installResizeHandler() {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { return }
        _ = fcntl(ends[1], F_SETFL, O_NONBLOCK)
        resizeReadEnd = ends[0]
        Self.resizeWriteEnd = ends[1]
        let handler: @convention(c) (Int32) -> Void = { _ in
            var byte: UInt8 = 1
            _ = write(InputWaiter.resizeWriteEnd, &byte, 1)
        }
        signal(SIGWINCH, handler)
        // SIGTERM and SIGHUP end the interface the way /quit does, so the terminal is given
        // back as it was (curses' endwin) and the session closes politely.
        let terminate: @convention(c) (Int32) -> Void = { _ in
            var byte: UInt8 = 2
            _ = write(InputWaiter.resizeWriteEnd, &byte, 1)
        }
        signal(SIGTERM, terminate)
        signal(SIGHUP, terminate)
    }

    func start(_ notify: @escaping @Sendable (Signal) -> Void) {
        let resizeEnd = resizeReadEnd
        let drained = self.drained
        let thread = Thread {
            var fds = [pollfd(fd: STDIN_FILENO, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: resizeEnd, events: Int16(POLLIN), revents: 0)]
            while true {
                fds[0].revents = 0
                fds[1].revents = 0
                let count = poll(&fds, resizeEnd >= 0 ? 2 : 1, -1)
                if count < 0 { if errno == EINTR { continue } else { return } }
                if fds[1].revents & Int16(POLLIN) != 0 {
                    var buffer = [UInt8](repeating: 0, count: 64)
                    let count = read(resizeEnd, &buffer, buffer.count)
                    let bytes = buffer.prefix(max(0, count))
                    if bytes.contains(2) {
                        notify(.terminate)
                        return
                    }
                    notify(.resize)
                }
                if fds[0].revents & Int16(POLLHUP | POLLERR | POLLNVAL) != 0 && fds[0].revents & Int16(POLLIN) == 0 {
                    // The terminal went away: nothing more will be typed.
                    notify(.terminate)
                    return
                }
                if fds[0].revents & Int16(POLLIN) != 0 {
                    notify(.input)
                    // Until the main actor has read the keys, stdin stays readable: wait for
                    // it rather than spin.
                    drained.wait()
                }
            }
        }
        thread.name = "dialtone-input"
        thread.start()
        self.thread = thread
    }

    /// The main actor has read what was waiting.
    func inputDrained() { drained.signal() }
}
