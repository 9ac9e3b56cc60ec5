import DialtoneCore

/// What the interface keeps of an account while another one is in view, so that switching back
/// finds it as it was left: its names, its conversation list, the conversation that was open,
/// its connection and presence, and a count of what arrived meanwhile for the status bar.
struct ParkedAccount {
    var names: any NameSource
    var list: ConversationListModel
    var openPeer: String?
    var connection: ConnectionState
    var presenceShow: String?
    var presenceStatus: String?
    var commandList: [AdHocCommand]
    var commandSession: CommandSessionState?
    /// Incoming messages and missed calls since the account left the view.
    var arrived = 0
}
