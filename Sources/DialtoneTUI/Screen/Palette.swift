/// How each role looks: colours by name and attributes. Themes (TOML in Themes/) fill this
/// in; the built-in dark palette is what shows when no theme file is found.
public struct Palette: Sendable, Equatable {
    public enum Color: String, Sendable, CaseIterable {
        case `default`, black, red, green, yellow, blue, magenta, cyan, white
    }

    /// A colour beyond the eight: an xterm 256-colour index, or 24-bit RGB for terminals with
    /// direct colour. The eight-colour `foreground`/`background` stay as the fallback.
    public enum ExtendedColor: Sendable, Equatable {
        case indexed(Int)
        case rgb(UInt8, UInt8, UInt8)

        /// "#ff8700", "208" or "color208".
        public init?(_ text: String) {
            if text.hasPrefix("#"), text.count == 7, let value = UInt32(text.dropFirst(), radix: 16) {
                self = .rgb(UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF))
            } else if let index = Int(text.hasPrefix("color") ? String(text.dropFirst(5)) : text), (0...255).contains(index) {
                self = .indexed(index)
            } else {
                return nil
            }
        }

        /// The nearest of xterm's 256 colours (the 6×6×6 cube or the grey ramp).
        public var index256: Int {
            switch self {
            case .indexed(let index): return index
            case .rgb(let r, let g, let b):
                func level(_ v: UInt8) -> Int { v < 48 ? 0 : v < 115 ? 1 : (Int(v) - 35) / 40 }
                let cube = 16 + 36 * level(r) + 6 * level(g) + level(b)
                let steps = [0, 95, 135, 175, 215, 255]
                func squared(_ value: UInt8, _ target: Int) -> Int {
                    let difference = Int(value) - target
                    return difference * difference
                }
                let cubeDistance = squared(r, steps[level(r)]) + squared(g, steps[level(g)]) + squared(b, steps[level(b)])
                let average = (Int(r) + Int(g) + Int(b)) / 3
                let grey = min(23, max(0, (average - 3) / 10))
                let greyValue = 8 + 10 * grey
                let greyDistance = squared(r, greyValue) + squared(g, greyValue) + squared(b, greyValue)
                return greyDistance < cubeDistance ? 232 + grey : cube
            }
        }

        /// The nearest of the eight basic colours, for terminals that have no more.
        public var basic: Color {
            let (r, g, b): (Int, Int, Int)
            switch self {
            case .rgb(let red, let green, let blue): (r, g, b) = (Int(red), Int(green), Int(blue))
            case .indexed(let index):
                if index < 16 { return [Color.black, .red, .green, .yellow, .blue, .magenta, .cyan, .white][index % 8] }
                if index >= 232 { let v = 8 + 10 * (index - 232); (r, g, b) = (v, v, v) } else {
                    let steps = [0, 95, 135, 175, 215, 255]
                    let cube = index - 16
                    (r, g, b) = (steps[cube / 36], steps[cube / 6 % 6], steps[cube % 6])
                }
            }
            // Each channel on or off: the eight colours are the corners of the RGB cube.
            let on = { (v: Int) in v >= 128 ? 1 : 0 }
            return [Color.black, .red, .green, .yellow, .blue, .magenta, .cyan, .white][on(r) | on(g) << 1 | on(b) << 2]
        }

        /// The colour as ncurses' direct-colour terminals (xterm-direct) number it.
        public var direct: Int {
            switch self {
            case .rgb(let r, let g, let b): Int(r) << 16 | Int(g) << 8 | Int(b)
            case .indexed: -1
            }
        }
    }

    public struct Style: Sendable, Equatable {
        public var foreground: Color = .default
        public var background: Color = .default
        public var extendedForeground: ExtendedColor?
        public var extendedBackground: ExtendedColor?
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
        .mention: Style(.black, on: .cyan, bold: true),
        .subject: Style(.yellow, dim: true), .attachment: Style(.magenta), .daySeparator: Style(.blue, dim: true),
        .edited: Style(dim: true), .notice: Style(.yellow), .error: Style(.red, bold: true),
        .strong: Style(bold: true), .emphasis: Style(underline: true), .strike: Style(dim: true),
        .preformatted: Style(.cyan), .quote: Style(.green, dim: true),
        .statusPending: Style(dim: true), .statusSent: Style(.default), .statusDelivered: Style(.default),
        .statusRead: Style(.cyan, bold: true), .statusFailed: Style(.red, bold: true),
        .listSelected: Style(reverse: true), .listUnread: Style(.yellow, bold: true), .listGroup: Style(.magenta),
        .presenceAvailable: Style(.green, bold: true), .presenceAway: Style(.yellow), .presenceBusy: Style(.red),
        .statusBar: Style(.white, on: .blue), .statusOnline: Style(.green, on: .blue, bold: true),
        .statusOffline: Style(.red, on: .blue, bold: true), .border: Style(.blue),
        .callEvent: Style(.green), .missedCall: Style(.red, bold: true), .callBanner: Style(.black, on: .yellow, bold: true),
        .callPanel: Style(.white, on: .black), .meter: Style(.green, on: .black),
    ])
}
