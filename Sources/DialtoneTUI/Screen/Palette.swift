/// How each role looks: colours by name and attributes. Themes (TOML in Themes/) fill this
/// in; the built-in dark palette is what shows when no theme file is found.
public struct Palette: Sendable, Equatable {
    public enum Color: String, Sendable, CaseIterable {
        case `default`, black, red, green, yellow, blue, magenta, cyan, white
    }

    public struct Style: Sendable, Equatable {
        public var foreground: Color = .default
        public var background: Color = .default
        public var bold = false
        public var dim = false
        public var reverse = false
        public var underline = false

        public init(_ foreground: Color = .default, on background: Color = .default, bold: Bool = false, dim: Bool = false,
                    reverse: Bool = false, underline: Bool = false) {
            self.foreground = foreground
            self.background = background
            self.bold = bold
            self.dim = dim
            self.reverse = reverse
            self.underline = underline
        }
    }

    public var styles: [StyleRole: Style]

    public init(styles: [StyleRole: Style]) { self.styles = styles }

    public func style(for role: StyleRole) -> Style { styles[role] ?? Style() }

    /// Attributes only, for NO_COLOR and terminals without colour.
    public var withoutColours: Palette {
        Palette(styles: styles.mapValues { Style(bold: $0.bold, dim: $0.dim, reverse: $0.reverse, underline: $0.underline) })
    }

    public static let builtInDark = Palette(styles: [
        .timestamp: Style(.blue), .ownName: Style(.green, bold: true), .peerName: Style(.cyan, bold: true),
        .subject: Style(.yellow, dim: true), .attachment: Style(.magenta), .daySeparator: Style(.blue, dim: true),
        .edited: Style(dim: true), .notice: Style(.yellow), .error: Style(.red, bold: true),
        .statusPending: Style(dim: true), .statusSent: Style(.default), .statusDelivered: Style(.default),
        .statusRead: Style(.cyan, bold: true), .statusFailed: Style(.red, bold: true),
        .listSelected: Style(reverse: true), .listUnread: Style(.yellow, bold: true), .listGroup: Style(.magenta),
        .statusBar: Style(.white, on: .blue), .statusOnline: Style(.green, on: .blue, bold: true),
        .statusOffline: Style(.red, on: .blue, bold: true), .border: Style(.blue),
        .callEvent: Style(.green), .missedCall: Style(.red, bold: true), .callBanner: Style(.black, on: .yellow, bold: true),
        .callPanel: Style(.white, on: .black), .meter: Style(.green, on: .black),
    ])
}
