import DialtoneCore
import Foundation

extension TUIApp {
    /// Draws every pane from the models; curses sends the terminal only what changed.
    func redraw() {
        terminal.clear()
        let height = layout.messageHeight
        if layout.listWidth > 0 {
            let rows = list.rows(width: layout.listWidth, height: height + 1)
            for (index, row) in rows.enumerated() { terminal.draw(row, row: index, column: 0, width: layout.listWidth) }
            for row in 0..<(height + 1) {
                terminal.draw(StyledLine([TextRun("│", .border)]), row: row, column: layout.listWidth, width: 1)
            }
        }
        var title = view.map { Sanitizer.plain(names.name(for: $0.peer)) } ?? "No conversation — /msg TO to start one"
        // XEP-0085 says a composing state that lasts 30 s has become a pause.
        if let peer = view?.peer, let since = typing[peer], Date().timeIntervalSince(since) < 30 { title += " — typing…" }
        if let security = conversationSecurity, view != nil { title += " — " + security }
        terminal.draw(StyledLine([TextRun(" " + title, .statusBar)]), row: 0, column: layout.messageColumn,
                      width: layout.messageWidth, fill: .statusBar)
        // The call panel takes rows under the title; the conversation keeps the rest.
        let panel = Array(callPanel(width: layout.messageWidth).prefix(max(0, height - 1)))
        for (index, line) in panel.enumerated() {
            terminal.draw(line, row: 1 + index, column: layout.messageColumn, width: layout.messageWidth,
                          fill: index == 0 && ringingCall != nil ? .callBanner : .callPanel)
        }
        // A notice gets a row of its own above the status bar, so it is never cut by the
        // account name and call timer beside it.
        let noticeRows = notice == nil ? 0 : 1
        if let notice, height - panel.count > 0 {
            terminal.draw(StyledLine([TextRun(" ", notice.role), TextRun(TerminalWidth.truncate(notice.text, to: max(1, layout.columns - 1)), notice.role)]),
                          row: layout.statusRow - 1, column: 0, width: layout.columns)
        }
        let messageRows = max(0, height - panel.count - noticeRows)
        let body: [StyledLine]
        if let overlay {
            // From the top, so a long list (/help) shows its beginning; PgDn goes on.
            overlayOffset = min(overlayOffset, max(0, overlay.count - messageRows))
            body = Array(overlay.dropFirst(overlayOffset).prefix(messageRows))
        } else {
            view?.layOutIfNeeded()
            body = Array(view?.visibleLines(height: messageRows) ?? [])
        }
        // Bottom-aligned, as chat reads: the newest row sits just above the status bar.
        let top = 1 + height - noticeRows - body.count
        for (index, line) in body.enumerated() {
            terminal.draw(line, row: top + index, column: layout.messageColumn, width: layout.messageWidth)
        }
        drawOccupants(height: height)
        drawStatusBar()
        let prompt = "> "
        let (text, cursor) = editor.view(width: max(2, layout.columns - prompt.count))
        terminal.draw(StyledLine([TextRun(prompt, .input), TextRun(text, .input)]), row: layout.inputRow, column: 0,
                      width: layout.columns, fill: .input)
        terminal.placeCursor(row: layout.inputRow, column: prompt.count + cursor)
        terminal.refresh()
    }

    /// The room's occupants, right of its messages: our nick first, then by name.
    private func drawOccupants(height: Int) {
        guard layout.occupantsWidth > 0, let room = view?.peer else { return }
        let ours = names.ourNick(in: room)
        if occupantOrder?.account != current || occupantOrder?.room != room {
            let sorted = (roomOccupants[current]?[room] ?? []).map { ($0.lowercased(), $0) }.sorted { $0 < $1 }.map(\.1)
            occupantOrder = (current, room, sorted)
        }
        let others = (occupantOrder?.nicks ?? []).filter { $0 != ours }
        let nicks = (ours.map { [$0] } ?? []) + others
        let title = TerminalWidth.truncate(" \(nicks.count) here", to: layout.occupantsWidth)
        terminal.draw(StyledLine([TextRun(title, .statusBar)]), row: 0, column: layout.occupantsColumn, width: layout.occupantsWidth, fill: .statusBar)
        for row in 0..<(height + 1) {
            terminal.draw(StyledLine([TextRun("│", .border)]), row: row, column: layout.occupantsColumn - 1, width: 1)
        }
        for (index, nick) in nicks.prefix(max(0, height)).enumerated() {
            let text = TerminalWidth.truncate(" " + Sanitizer.plain(nick), to: layout.occupantsWidth)
            terminal.draw(StyledLine([TextRun(text, nick == ours ? .ownName : .peerName)]), row: 1 + index,
                          column: layout.occupantsColumn, width: layout.occupantsWidth)
        }
    }

    private func drawStatusBar() {
        let state: TextRun
        switch connection {
        case .online: state = TextRun("online", .statusOnline)
        case .connecting: state = TextRun(connection.description, .statusBar)
        case .waitingToReconnect, .offline: state = TextRun(Sanitizer.plain(connection.description), .statusOffline)
        }
        var runs = [TextRun(" \(session.account.description) ", .statusBar), state]
        let unread = list.totalUnread
        if unread > 0 { runs.append(TextRun(" · \(unread) unread", .statusBar)) }
        if let others = otherAccountsStatus { runs.append(TextRun(" · + \(others)", .statusBar)) }
        if let callStatus { runs.append(TextRun(" · \(callStatus)", .statusBar)) }
        if let playbackStatus { runs.append(TextRun(" · \(playbackStatus)", .statusBar)) }
        terminal.draw(StyledLine(runs), row: layout.statusRow, column: 0, width: layout.columns, fill: .statusBar)
    }
}
