import DialtoneCore

/// What the interface keeps of one account, in view or not: its names, conversation list,
/// connection and presence, the ad-hoc command in progress, the conversation open when it
/// left the view, and what arrived while it was out of view. The interface holds one for
/// each account; the one in view is `accounts[current]`.
struct AccountView {
    var names: any NameSource
    var list: ConversationListModel
    var openPeer: String?
    var connection: ConnectionState = .offline(reason: nil)
    var presenceShow: String?
    var presenceStatus: String?
    var commandList: [AdHocCommand] = []
    var commandSession: CommandSessionState?
    /// Incoming messages and missed calls since the account left the view.
    var arrived = 0
    /// Rooms being joined (address → the nick asked for): rooms to the names until the join ends.
    var joiningRooms: [String: String?] = [:]
}
