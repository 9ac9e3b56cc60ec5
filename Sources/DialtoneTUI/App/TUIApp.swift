import DialtoneCore
import Foundation
import Logging

/// The terminal front end: owns the screen and the view models, turns keys into core calls
/// and core events into redraws. Everything here runs on the main actor, curses included.
@MainActor
public final class TUIApp {
    enum Event: Sendable {
        case input, resize, terminate
        /// Something from the account at this place in `sessions`.
        case core(CoreEvent, account: Int)
        /// Call timer and meters: a few times a second, only while a call is up.
        case tick
        /// Draw what the events before it changed (one redraw for a burst of them).
        case redraw
        /// An account's names, read afresh off this thread after its contacts changed.
        case names(DisplayNames, account: Int)
    }

    /// Every configured account, each with its own connection and store.
    let sessions: [AccountSession]
    /// The account in view: the list, the open conversation and the commands are its.
    var current = 0
    var session: AccountSession { sessions[current] }
    /// What is kept of each account, by its place in `sessions`.
    var accounts: [AccountView]
    /// Which account each call belongs to: a call rings and is answered on its own account,
    /// whichever is in view.
    var callOwners: [String: Int] = [:]
    let logger: Logger
    let terminal = Terminal()
    private let waiter = InputWaiter()
    private var decoder = KeyDecoder()
    var palette: Palette
    // The account in view's part of `accounts`, by the names the interface code uses.
    var names: any NameSource {
        get { accounts[current].names }
        set { accounts[current].names = newValue }
    }
    var list: ConversationListModel {
        get { accounts[current].list }
        set { accounts[current].list = newValue }
    }
    var connection: ConnectionState {
        get { accounts[current].connection }
        set { accounts[current].connection = newValue }
    }
    var presenceShow: String? {
        get { accounts[current].presenceShow }
        set { accounts[current].presenceShow = newValue }
    }
    var presenceStatus: String? {
        get { accounts[current].presenceStatus }
        set { accounts[current].presenceStatus = newValue }
    }
    var commandList: [AdHocCommand] {
        get { accounts[current].commandList }
        set { accounts[current].commandList = newValue }
    }
    var commandSession: CommandSessionState? {
        get { accounts[current].commandSession }
        set { accounts[current].commandSession = newValue }
    }
    var view: MessageViewModel?
    /// Whether the conversation in view is end-to-end encrypted, in words for its title.
    var conversationSecurity: String?
    var editor = LineEditor()
    var histories: [String: InputHistory] = [:]
    /// Help or search results shown in place of the conversation until Escape, from their
    /// first line (a list longer than the screen scrolls with PgUp/PgDn).
    var overlay: [StyledLine]? { didSet { overlayOffset = 0 } }
    /// How many of the overlay's first lines are scrolled away.
    var overlayOffset = 0
    var notice: TextRun?
    var layout = ScreenLayout(rows: 24, columns: 80)
    var running = true
    private let format: MessageFormat
    /// Calls by id, as the core last reported them.
    var calls: [String: CallInfo] = [:]
    /// The rest of a dial string after its `;`, until Enter on an empty line sends it.
    var pausedDial: (id: String, steps: [DialString.Step])?
    /// While a call is connected, digits typed on an empty line go out as DTMF.
    var keypad = true
    var typedDigits = ""
    /// Digits typed or dialled, sent in order by one worker.
    lazy var digitOutbox = DigitOutbox { [weak self] id, digits in await self?.deliverDigits(digits, on: id) }
    var callLevels: (capture: Double, playback: Double)?
    var callStatistics: CallStatistics?
    var ticker: Task<Void, Never>?
    var eventSink: AsyncStream<Event>.Continuation?
    var player: AudioFilePlayer?
    var ringer: AudioFilePlayer?
    var playingName: String?
    /// Plain-http downloads whose warning was shown, by link: the next /open of one opens it.
    var warnedDownloads: [String: DownloadedAttachment] = [:]

    var notifier: Notifier
    /// 1:1 conversations of the account in view whose peer is typing (XEP-0085 composing),
    /// since when: shown beside the conversation's name until they pause, send or leave.
    var typing: [String: Date] = [:]
    /// Conversations (by account and peer) whose read mark is about to go out.
    var seenPending: Set<String> = []
    /// Accounts whose names are being read afresh, and those changed again meanwhile.
    var namesReading: Set<Int> = []
    var namesStale: Set<Int> = []
    /// Who is in each room we are in, by account and room: Tab completes their nicks.
    var roomOccupants: [Int: [String: Set<String>]] = [:] { didSet { occupantOrder = nil } }
    /// The occupants' column's order (case-insensitive) for one account's room, kept until
    /// someone comes or goes: a room of 1,000 is not sorted again at every redraw.
    var occupantOrder: (account: Int, room: String, nicks: [String])?
    /// Comings and goings in rooms since the last line about them, by account and room: one
    /// line a burst, not one a presence.
    var roomChanges: [Int: [String: (came: [String], went: [String])]] = [:]

    public convenience init(session: AccountSession, palette: Palette = .builtInDark, notifications: NotificationStyle = .none,
                            logger: Logger = Logger(label: "dialtone.tui")) {
        self.init(sessions: [session], palette: palette, notifications: notifications, logger: logger)
    }

    /// One interface over several accounts (numbers); the first is in view at the start.
    public init(sessions: [AccountSession], palette: Palette = .builtInDark, notifications: NotificationStyle = .none,
                logger: Logger = Logger(label: "dialtone.tui")) {
        precondition(!sessions.isEmpty, "the interface needs an account")
        self.sessions = sessions
        self.notifier = Notifier(style: notifications)
        self.logger = logger
        self.palette = palette
        self.format = MessageFormat(ownName: "me")
        accounts = sessions.enumerated().map { index, session in
            let names: any NameSource = (try? session.displayNames()) ?? FixedNames()
            var list = ConversationListModel(names: names)
            // The first account's list is loaded when the interface starts; the others' now.
            if index > 0 { list.replace((try? session.records.conversations().map(ConversationEntry.init)) ?? []) }
            return AccountView(names: names, list: list, openPeer: index > 0 ? list.selectedPeer : nil)
        }
    }

    /// Runs until /quit: sets up the terminal, connects, and handles events as they come.
    /// `notice`: a line to show first (a configuration warning).
    public func run(notice startNotice: String? = nil) async {
        TerminalWidth.prepareLocale()
        let (events, continuation) = AsyncStream<Event>.makeStream(bufferingPolicy: .unbounded)
        eventSink = continuation
        waiter.installResizeHandler()
        terminal.start(palette: palette)
        defer { terminal.stop() }
        layout = ScreenLayout(rows: Int(terminal.rows), columns: Int(terminal.columns))

        loadConversations()
        if let peer = list.selectedPeer { open(peer) }
        if let startNotice { show(error: startNotice) }
        var forwarding: [Task<Void, Never>] = []
        for (index, account) in sessions.enumerated() {
            let coreEvents = await account.events()
            forwarding.append(Task {
                for await event in coreEvents { continuation.yield(.core(event, account: index)) }
            })
        }
        waiter.start { signal in
            switch signal {
            case .input: continuation.yield(.input)
            case .resize: continuation.yield(.resize)
            case .terminate: continuation.yield(.terminate)
            }
        }
        for account in sessions {
            await account.start()
            // A `send` from a script or a `listen` beside us store messages too: show them.
            await account.followOtherProcesses()
        }
        connection = await session.connectionState
        redraw()

        var redrawQueued = false
        for await event in events {
            switch event {
            case .input: readKeys()
            case .resize: resize()
            case .terminate: running = false
            case .core(let event, let account): handle(event, from: account)
            case .tick:
                checkPlayback()
                await refreshCallFigures()
            case .redraw: redrawQueued = false
            case .names(let names, let account): apply(names, to: account)
            }
            if !running { break }
            switch event {
            case .input, .resize, .redraw:
                // What the user typed shows at once.
                redraw()
            case .core, .tick, .terminate, .names:
                // Network events come in bursts (100 messages a second, a roster, an archive
                // page): one redraw after those already queued, not one each.
                if !redrawQueued {
                    redrawQueued = true
                    continuation.yield(.redraw)
                }
            }
        }
        for task in forwarding { task.cancel() }
        ticker?.cancel()
        stopPlaying()
        ringer?.stop()
        terminal.stop()
        for account in sessions { await account.stop() }
    }

    private func readKeys() {
        let keys = decoder.decode(terminal.readAvailable())
        waiter.inputDrained()
        for key in keys { handle(key) }
        if !keys.isEmpty { updateOwnChatState() }
    }

    func resize() {
        terminal.updateSize()
        layOut()
        view?.resize(width: layout.messageWidth)
    }

    /// The panes for the terminal's size and what is open: a group chat gets its occupants'
    /// column when there is room for it.
    func layOut(for peer: String? = nil) {
        let open = peer ?? view?.peer
        layout = ScreenLayout(rows: Int(terminal.rows), columns: Int(terminal.columns), occupants: open.map(names.isRoom) ?? false)
    }

    // MARK: Conversations

    func loadConversations() {
        do {
            list.replace(try session.records.conversations().map(ConversationEntry.init))
        } catch {
            show(error: "Cannot read conversations: \(error)")
        }
    }

    func open(_ peer: String) {
        list.select(peer)
        overlay = nil
        layOut(for: peer)
        var model = MessageViewModel(peer: peer, width: layout.messageWidth, names: names, format: format)
        if let log = try? session.records.calls(peer: peer, limit: 200) { model.show(calls: log.map(\.call)) }
        do { model.show(try session.records.history(peer: peer, limit: 500)) } catch {
            show(error: "Cannot read history: \(error)")
        }
        view = model
        markSeen(peer)
        updateTitle()
        showSecurity(of: peer)
    }

    /// Marks the conversation read (and tells the sender it was displayed) a moment after
    /// the last message of a burst, not once for each of a hundred messages a second.
    private func markSeen(_ peer: String) {
        guard let jid = try? JID(peer) else { return }
        let session = self.session
        let key = "\(current) \(peer)"
        guard seenPending.insert(key).inserted else { return }
        Task { @MainActor in
            try? await Task.sleep(for: .milliseconds(300))
            self.seenPending.remove(key)
            try? await session.markSeen(jid)
        }
    }

    /// One handler for every account's events: what is kept of the account is updated
    /// whether it is in view or not; the open conversation, chat states and the screen only
    /// for the account in view; an account out of view counts what arrived and notifies.
    func handle(_ event: CoreEvent, from account: Int) {
        let inView = account == current
        switch event {
        case .call(let info):
            callOwners[info.id] = account
            handle(call: info, account: account)
        case .callDigit, .rejected:
            break
        case .room(let event):
            handle(room: event, account: account)
        case .subscriptionRequest(let from, let nick):
            noteSubscriptionRequest(from: from, nick: nick, account: account)
        case .subscriptionAnswered(let from, let accepted):
            noteSubscriptionAnswer(from: from, accepted: accepted, account: account)
        case .connection(let state):
            accounts[account].connection = state
            accounts[account].list.note(state)
        case .presence(let update):
            accounts[account].list.note(update, account: sessions[account].account)
        case .contactsChanged:
            readNames(of: account)
        case .message(let peer, let message):
            let incoming = message.direction == .incoming
            // In a group chat only a message naming our nick rings; the rest is counted.
            let names = accounts[account].names
            let inRoom = names.isRoom(peer)
            let mention = inRoom && incoming && names.ourNick(in: peer).map { Mention.mentions($0, in: message.body ?? "") } == true
            accounts[account].list.noteActivity(peer: peer, at: message.timestamp, incoming: incoming, mention: mention)
            if inView {
                showInView(message, peer: peer, rings: !inRoom || mention)
            } else if incoming, !inRoom || mention, message.body != nil || !message.attachments.isEmpty {
                accounts[account].arrived += 1
                terminal.bell()
                let text = message.body ?? (message.attachments.isEmpty ? "" : "📎 attachment")
                let sender = accounts[account].names.name(for: message.sender.isEmpty ? peer : message.sender)
                notifier.notify(title: "\(sender) → \(sessions[account].account.bare.description)", body: text)
            }
            updateTitle()
        case .corrected(let peer, let message), .retracted(let peer, let message), .reacted(let peer, let message, _, _),
             .sentEncrypted(let peer, let message):
            if inView, peer == view?.peer { view?.upsert(message) }
        case .status(let id, let status):
            if inView { view?.setStatus(status, forMessage: id) }
        case .held(_, _, let reason):
            // The reason names the contact and what to do, wherever the user is now.
            if inView { show(error: Sanitizer.plain(reason)) }
        case .readElsewhere(let peer, let unread):
            accounts[account].list.setUnread(peer, to: unread)
            updateTitle()
        case .chatState(let peer, let state):
            // Group texts have no single typist to show.
            guard inView, !peer.contains(",") else { break }
            typing[peer] = state == "composing" ? Date() : nil
        }
    }

    /// A message of the account in view: into the open conversation (and read), or opened
    /// when nothing is, or else the bell and a notification.
    private func showInView(_ message: StoredMessage, peer: String, rings: Bool) {
        if message.direction == .incoming { typing[peer] = nil }
        if peer == view?.peer {
            // Laid out when drawn: a room's older history comes a page at a time.
            view?.upsert(message, deferringLayout: true)
            if message.direction == .incoming { markSeen(peer) }
        } else if list.selectedPeer == nil || view == nil {
            open(peer)
        } else if message.direction == .incoming, rings {
            // Something new where the user is not looking: ring the terminal's bell.
            terminal.bell()
            let text = message.body ?? message.subject ?? (message.attachments.isEmpty ? "" : "📎 attachment")
            notifier.notify(title: names.name(for: message.sender.isEmpty ? peer : message.sender), body: text)
        }
    }

    /// "Dialtone (3)" while there are unread messages, so a tab or window list shows them.
    func updateTitle() {
        let unread = accounts.reduce(0) { $0 + $1.list.totalUnread }
        terminal.setTitle(unread > 0 ? "Dialtone (\(unread))" : "Dialtone")
    }

    func show(notice text: String) { notice = TextRun(text, .notice) }
    func show(error text: String) {
        logger.info("shown to the user: \(text)")
        notice = TextRun(text, .error)
    }
}
