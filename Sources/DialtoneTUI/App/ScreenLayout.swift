/// Where each pane goes for a terminal size: the list on the left, messages on the right
/// under a title row, the status bar and the input line at the bottom.
public struct ScreenLayout: Sendable, Equatable {
    public var listWidth: Int
    public var messageColumn: Int
    public var messageWidth: Int
    /// Rows for messages, under the title row.
    public var messageHeight: Int
    public var statusRow: Int
    public var inputRow: Int
    public var columns: Int
    /// A group chat's occupants, in a column right of the messages when the terminal is
    /// wide enough (0: none).
    public var occupantsWidth = 0
    public var occupantsColumn: Int { messageColumn + messageWidth + 1 }

    public init(rows: Int, columns: Int, occupants: Bool = false) {
        self.columns = columns
        // Narrow terminals give the whole width to the conversation.
        listWidth = columns >= 60 ? min(24, columns / 3) : 0
        messageColumn = listWidth == 0 ? 0 : listWidth + 1
        messageWidth = max(1, columns - messageColumn)
        statusRow = max(0, rows - 2)
        inputRow = max(0, rows - 1)
        messageHeight = max(0, rows - 3)
        if occupants, columns >= 100 {
            occupantsWidth = 18
            messageWidth = max(1, messageWidth - occupantsWidth - 1)
        }
    }
}
