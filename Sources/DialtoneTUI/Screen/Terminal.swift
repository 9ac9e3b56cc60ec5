import CNcursesw
#if canImport(Glibc)
import Glibc
#endif

/// Curses, on the main actor only: the screen, colours, and the keys waiting to be read.
@MainActor
final class Terminal {
    private(set) var rows: Int32 = 24
    private(set) var columns: Int32 = 80
    private var pairs: [StyleRole: (pair: Int16, attributes: attr_t)] = [:]
    private var started = false
    private var lastTitle: String?
    /// The whole-screen window; kept here because the C global is not concurrency-safe to read.
    private var window: UnsafeMutablePointer<WINDOW>?
    /// Codes we ask curses to report for sequences its terminfo entry may not name.
    private var extraKeys: [Int32: FunctionKey] = [:]

    func start(palette: Palette) {
        window = initscr()
        started = true
        raw()
        noecho()
        nonl()
        keypad(window, true)
        // We read only when poll says keys are waiting, so reads never block; Escape
        // sequences still get a short wait to arrive whole.
        nodelay(window, true)
        set_escdelay(25)
        defineKeys()
        // Bracketed paste: the terminal wraps pastes in ESC[200~ … ESC[201~.
        writeRaw("\u{1B}[?2004h")
        apply(palette)
        updateSize()
    }

    func stop() {
        guard started else { return }
        setTitle("")
        writeRaw("\u{1B}[?2004l")
        endwin()
        started = false
    }

    /// Gives the terminal to another program (a pager) until `resume()`.
    func suspend() {
        guard started else { return }
        writeRaw("\u{1B}[?2004l")
        def_prog_mode()
        endwin()
    }

    /// Takes the terminal back after `suspend()` and draws everything again.
    func resume() {
        guard started else { return }
        reset_prog_mode()
        writeRaw("\u{1B}[?2004h")
        clearok(window, true)
        wrefresh(window)
    }

    /// The terminal's title (OSC 0). Only our own text goes here, never a sender's: a title is
    /// one more place an escape sequence could hide.
    func setTitle(_ title: String) {
        // Asked after every message: the terminal hears only a change.
        guard title != lastTitle else { return }
        lastTitle = title
        writeRaw("\u{1B}]0;" + title.filter { $0.isLetter || $0.isNumber || $0 == " " || $0 == "(" || $0 == ")" } + "\u{07}")
    }

    func bell() { beep() }

    private func writeRaw(_ sequence: String) {
        // Straight to the terminal: curses has no call for private modes it does not know.
        var bytes = Array(sequence.utf8)
        _ = write(STDOUT_FILENO, &bytes, bytes.count)
    }

    private func defineKeys() {
        let sequences: [(String, FunctionKey)] = [
            ("\u{1B}[200~", .pasteStart), ("\u{1B}[201~", .pasteEnd),
            ("\u{1B}[1;3A", .metaUp), ("\u{1B}[1;3B", .metaDown), ("\u{1B}[1;9A", .metaUp), ("\u{1B}[1;9B", .metaDown),
        ]
        for (index, (sequence, key)) in sequences.enumerated() {
            let code = Int32(0x1F00 + index)
            define_key(sequence, code)
            extraKeys[code] = key
        }
    }

    func apply(_ palette: Palette) {
        var palette = palette
        let colour = getenv("NO_COLOR").map { String(cString: $0).isEmpty } ?? true
        if colour && has_colors() {
            start_color()
            use_default_colors()
        } else {
            palette = palette.withoutColours
        }
        pairs = [:]
        var next: Int16 = 1
        for role in StyleRole.allCases {
            let style = palette.style(for: role)
            var attributes = attr_t(0)
            if style.bold { attributes |= attr_t(NCURSES_BITS(1, 13)) }
            if style.dim { attributes |= attr_t(NCURSES_BITS(1, 12)) }
            if style.reverse { attributes |= attr_t(NCURSES_BITS(1, 10)) }
            if style.underline { attributes |= attr_t(NCURSES_BITS(1, 9)) }
            var pair: Int16 = 0
            if colour && has_colors() && (style.foreground != .default || style.background != .default) {
                init_extended_pair(Int32(next), Self.number(style.foreground, style.extendedForeground, colours: Int(dt_colors())),
                                   Self.number(style.background, style.extendedBackground, colours: Int(dt_colors())))
                pair = next
                next += 1
            }
            pairs[role] = (pair, attributes)
        }
    }

    private func NCURSES_BITS(_ mask: UInt32, _ shift: UInt32) -> UInt32 { mask << (shift + 8) }

    /// The colour number for what the terminal has: direct RGB (xterm-direct), 256 colours, or
    /// the eight.
    nonisolated static func number(_ colour: Palette.Color, _ extended: Palette.ExtendedColor?, colours: Int) -> Int32 {
        if let extended {
            if colours >= 0x100_0000, extended.direct >= 0 { return Int32(extended.direct) }
            if colours >= 256 { return Int32(extended.index256) }
        }
        return Int32(number(colour))
    }

    nonisolated private static func number(_ colour: Palette.Color) -> Int16 {
        switch colour {
        case .default: -1
        case .black: Int16(COLOR_BLACK)
        case .red: Int16(COLOR_RED)
        case .green: Int16(COLOR_GREEN)
        case .yellow: Int16(COLOR_YELLOW)
        case .blue: Int16(COLOR_BLUE)
        case .magenta: Int16(COLOR_MAGENTA)
        case .cyan: Int16(COLOR_CYAN)
        case .white: Int16(COLOR_WHITE)
        }
    }

    /// Asks the kernel for the window size and tells curses.
    func updateSize() {
        var size = winsize()
        if ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_row > 0, size.ws_col > 0 {
            resizeterm(Int32(size.ws_row), Int32(size.ws_col))
        }
        rows = getmaxy(window)
        columns = getmaxx(window)
    }

    /// Everything waiting on standard input, without blocking.
    func readAvailable() -> [RawInput] {
        var inputs: [RawInput] = []
        var character = wint_t(0)
        while true {
            let result = wget_wch(window, &character)
            if result == OK {
                if let scalar = Unicode.Scalar(UInt32(character)) { inputs.append(.scalar(scalar)) }
            } else if result == KEY_CODE_YES {
                inputs.append(.key(map(Int32(character))))
            } else {
                break
            }
        }
        return inputs
    }

    private func map(_ code: Int32) -> FunctionKey {
        if let key = extraKeys[code] { return key }
        switch code {
        case KEY_UP: return .up
        case KEY_DOWN: return .down
        case KEY_LEFT: return .left
        case KEY_RIGHT: return .right
        case KEY_HOME: return .home
        case KEY_END: return .end
        case KEY_PPAGE: return .pageUp
        case KEY_NPAGE: return .pageDown
        case KEY_BACKSPACE: return .backspace
        case KEY_DC: return .delete
        case KEY_ENTER: return .enter
        case KEY_RESIZE: return .resize
        default: return .other
        }
    }

    // MARK: Drawing

    func clear() { werase(window) }

    /// Draws `line` at a row and column, clipped to `width` and padded with `fill`'s style.
    func draw(_ line: StyledLine, row: Int, column: Int, width: Int, fill: StyleRole? = nil) {
        guard row >= 0, row < Int(rows), width > 0 else { return }
        var x = column
        let end = column + width
        for run in line.spans {
            set(run.role)
            for character in run.text {
                let w = TerminalWidth.columns(of: character)
                if x + w > end { break }
                if w == 0 { continue }
                // Each cluster at its own column, so a disagreement between curses' idea of a
                // width and ours cannot shift the rest of the row.
                mvaddstr(Int32(row), Int32(x), String(character))
                x += w
            }
        }
        if let fill, x < end {
            set(fill)
            mvaddstr(Int32(row), Int32(x), String(repeating: " ", count: end - x))
        }
        attrset(0)
    }

    private func set(_ role: StyleRole) {
        let (pair, attributes) = pairs[role] ?? (0, 0)
        attrset(Int32(bitPattern: UInt32(attributes) | UInt32(pair) << 8))
    }

    func placeCursor(row: Int, column: Int) {
        move(Int32(row), Int32(column))
    }

    func refresh() {
        wnoutrefresh(window)
        doupdate()
    }
}
