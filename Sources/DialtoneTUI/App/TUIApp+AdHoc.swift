import DialtoneCore
import Foundation

/// XEP-0050 commands in the interface, as a gateway's account bot offers them: the list, then
/// each step's form drawn with numbered fields, edited with /field and moved on with /next,
/// /prev, /complete or /cancel.
struct CommandSessionState {
    var entity: JID
    var node: String
    var name: String
    var response: AdHocResponse
    /// The form as the user has filled it in so far.
    var form: DataForm?
    /// A room's configuration rather than a command (/configure): /complete sends the form
    /// to the room, /cancel leaves it as it was.
    var configuresRoom = false
}

extension TUIApp {
    /// /cmd [ADDRESS] lists commands (of the gateway by default); /cmd N runs the Nth.
    func adHoc(_ choice: NumberOrAddress?) {
        let target: JID
        switch choice {
        case .number(let number):
            guard commandList.indices.contains(number - 1) else { show(error: "No command \(number): /cmd lists them."); return }
            let command = commandList[number - 1]
            runCommandStep(entity: command.jid, node: command.node, name: command.name, sessionID: nil, action: "execute", form: nil)
            return
        case .address(let jid):
            target = jid
        case nil:
            guard let gateway = session.recipients.gateway else { show(error: "/cmd ADDRESS — no gateway is configured to ask."); return }
            target = gateway
        }
        let client = session
        let account = current
        Task { @MainActor in
            do {
                let commands = try await client.commands(of: target)
                // Another account came into view meanwhile: its commands are not these.
                guard self.current == account else { return }
                self.commandList = commands
                self.overlay = Self.commandListLines(commands, of: target)
            } catch {
                self.show(error: "Cannot list the commands of \(Sanitizer.plain(target.description)): \(error)")
            }
            self.redraw()
        }
    }

    /// The list /cmd shows. An item may name another address than the one asked (XEP-0050
    /// allows it): that address is shown, so what runs where is never a surprise.
    static func commandListLines(_ commands: [AdHocCommand], of target: JID) -> [StyledLine] {
        var lines = [StyledLine([TextRun("Commands of \(Sanitizer.plain(target.description)) — /cmd N runs one; Esc closes", .notice)])]
        for (index, command) in commands.enumerated() {
            var runs = [TextRun(" \(index + 1). ", .timestamp), TextRun(Sanitizer.plain(command.name))]
            if command.jid != target { runs.append(TextRun(" (at \(Sanitizer.plain(command.jid.description)))", .timestamp)) }
            lines.append(StyledLine(runs))
        }
        if commands.isEmpty { lines.append(StyledLine([TextRun(" (none)")])) }
        return lines
    }

    /// /field N VALUE: fills in a field of the form on screen.
    func setField(_ number: Int, to value: String) {
        guard var state = commandSession, var form = state.form else { show(error: "No form is open: /cmd first."); return }
        let editable = Self.editableFields(form)
        guard editable.indices.contains(number - 1) else {
            show(error: "/field N VALUE, N from 1 to \(editable.count)")
            return
        }
        let index = editable[number - 1]
        do {
            // A literal "\n" stands for a new line in multi-line text.
            try form.fields[index].set(from: value.replacingOccurrences(of: "\\n", with: "\n"))
        } catch {
            show(error: error.description)
            return
        }
        state.form = form
        commandSession = state
        showCommandStep()
    }

    /// /next, /prev, /complete, /cancel on the open command session.
    func commandAction(_ action: String) {
        if let state = commandSession, state.configuresRoom, state.response.status == .executing {
            configurationAction(action, state)
            return
        }
        guard let state = commandSession, let sessionID = state.response.sessionID else { show(error: "No command is running: /cmd first."); return }
        guard state.response.status == .executing else { show(error: "The command has finished."); return }
        let allowed = action == "cancel" || action == "next" && state.response.actions.isEmpty || state.response.actions.contains(action)
        guard allowed else { show(error: "Not now: \(state.response.actions.map { "/\($0)" }.joined(separator: ", ")) or /cancel."); return }
        // "next" with no actions offered is the step's plain execute.
        let sent = action == "next" && state.response.actions.isEmpty ? "execute" : action
        runCommandStep(entity: state.entity, node: state.node, name: state.name, sessionID: sessionID, action: sent, form: state.form)
    }

    private func runCommandStep(entity: JID, node: String, name: String, sessionID: String?, action: String, form: DataForm?) {
        let client = session
        let account = current
        Task { @MainActor in
            do {
                let response = try await client.execute(node, on: entity, sessionID: sessionID, action: action, form: form)
                guard self.current == account else { return }
                self.commandSession = CommandSessionState(entity: entity, node: node, name: name, response: response, form: response.form)
                self.showCommandStep()
            } catch {
                self.show(error: "\(Sanitizer.plain(name)): \(error)")
            }
            self.redraw()
        }
    }

    /// Field indices that take input, numbered for /field in the order shown.
    static func editableFields(_ form: DataForm) -> [Int] {
        form.fields.indices.filter { !["fixed", "hidden"].contains(form.fields[$0].type) }
    }

    func showCommandStep() {
        guard let state = commandSession else { return }
        let width = layout.messageWidth
        let response = state.response
        var lines = [StyledLine([TextRun("\(Sanitizer.plain(state.name)) at \(Sanitizer.plain(state.entity.description)) — \(response.status.rawValue)", .notice)])]
        for note in response.notes {
            lines += StyledWrapper.wrap([TextRun(note.type == "error" ? "✗ " : "• ", note.type == "error" ? .error : .notice),
                                         TextRun(Sanitizer.plain(note.text))], width: width, indent: "  ")
        }
        for link in response.links {
            lines += StyledWrapper.wrap([TextRun("📎 " + Sanitizer.plain(link.description ?? link.url) + " ", .attachment),
                                         TextRun(Sanitizer.plain(link.url))], width: width, indent: "  ")
        }
        if let form = state.form { lines += formLines(form, width: width) }
        if response.status == .executing {
            let moves = (response.actions.isEmpty ? ["next"] : response.actions).map { "/\($0)" } + ["/cancel"]
            lines.append(StyledLine([TextRun("/field N VALUE edits · " + moves.joined(separator: " · "), .timestamp)]))
        } else {
            lines.append(StyledLine([TextRun("Esc closes", .timestamp)]))
        }
        overlay = lines
    }

    /// A form as rows: title, instructions, then each field with its number, kind and value.
    func formLines(_ form: DataForm, width: Int) -> [StyledLine] {
        var lines: [StyledLine] = []
        if let title = form.title { lines.append(StyledLine([TextRun(Sanitizer.plain(title), .peerName)])) }
        for instruction in form.instructions { lines += StyledWrapper.wrap([TextRun(Sanitizer.plain(instruction))], width: width, indent: "") }
        let editable = Self.editableFields(form)
        for (index, field) in form.fields.enumerated() where field.type != "hidden" {
            let label = Sanitizer.plain(field.label ?? field.variable ?? "")
            if field.type == "fixed" {
                lines += StyledWrapper.wrap([TextRun(Sanitizer.plain(field.values.joined(separator: " ")))], width: width, indent: "")
                continue
            }
            let number = (editable.firstIndex(of: index) ?? 0) + 1
            let kind: String = switch field.type {
            case "boolean": "yes/no"
            case "text-private": "secret"
            case "list-single": "one of"
            case "list-multi": "any of, commas"
            case "text-multi": "lines, \\n between"
            case "jid-single": "address"
            case "jid-multi": "addresses, commas"
            default: "text"
            }
            let shown: String = switch field.type {
            case "boolean": field.values.first.map { ["1", "true"].contains($0) ? "yes" : "no" } ?? "—"
            case "text-private": field.values.first.map { String(repeating: "•", count: $0.count) } ?? "—"
            case "list-single", "list-multi":
                field.values.map { value in field.options.first { $0.value == value }?.label ?? value }.joined(separator: ", ")
            default: field.values.joined(separator: field.type == "text-multi" ? " ⏎ " : ", ")
            }
            var runs = [TextRun(" \(number). ", .timestamp), TextRun(label, .peerName),
                        TextRun(" [\(kind)\(field.required ? ", required" : "")]: ", .timestamp), TextRun(Sanitizer.plain(shown.isEmpty ? "—" : shown))]
            if !field.options.isEmpty {
                let choices = field.options.enumerated().map { "(\($0.offset + 1)) \($0.element.label ?? $0.element.value)" }.joined(separator: " ")
                runs.append(TextRun("  " + Sanitizer.plain(choices), .subject))
            }
            lines += StyledWrapper.wrap(runs, width: width, indent: "    ")
            if let description = field.description {
                lines += StyledWrapper.wrap([TextRun("    " + Sanitizer.plain(description), .subject)], width: width, indent: "    ")
            }
        }
        if !form.reported.isEmpty {
            let columns = form.reported.map { Sanitizer.plain($0.label ?? $0.variable ?? "") }
            lines.append(StyledLine([TextRun(columns.joined(separator: " │ "), .peerName)]))
            for item in form.items {
                let cells = form.reported.map { column in
                    Sanitizer.plain(item.first { $0.variable == column.variable }?.values.joined(separator: ", ") ?? "")
                }
                lines.append(StyledLine([TextRun(cells.joined(separator: " │ "))]))
            }
        }
        return lines
    }
}
