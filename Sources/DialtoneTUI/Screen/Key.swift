/// What curses reads, before it means anything: a character or a named key.
public enum RawInput: Sendable, Equatable {
    case scalar(Unicode.Scalar)
    case key(FunctionKey)
}

public enum FunctionKey: Sendable, Equatable {
    case up, down, left, right, home, end, pageUp, pageDown, backspace, delete, enter
    case metaUp, metaDown, pasteStart, pasteEnd, resize, other
}

/// A key press as the app understands it.
public enum Key: Sendable, Equatable {
    /// Typed text (several scalars when they came together, so clusters stay whole).
    case text(String)
    /// A bracketed paste, newlines and all: one message, never a burst of sends.
    case paste(String)
    case enter, backspace, delete, tab, escape, resize
    case up, down, left, right, home, end, pageUp, pageDown
    case metaUp, metaDown
    /// Ctrl with a letter: `.control("a")` for C-a.
    case control(Character)
    /// Alt (Escape then the key): `.meta("b")` for M-b.
    case meta(Character)
}

/// Turns raw input into keys: Escape prefixes, control characters, and bracketed pastes that
/// may span several reads.
public struct KeyDecoder: Sendable {
    private var paste: String.UnicodeScalarView?

    public init() {}

    public mutating func decode(_ inputs: [RawInput]) -> [Key] {
        var keys: [Key] = []
        var text = String.UnicodeScalarView()
        func flushText() {
            if !text.isEmpty { keys.append(.text(String(text))); text = String.UnicodeScalarView() }
        }
        var index = 0
        while index < inputs.count {
            let input = inputs[index]
            index += 1
            if var pasted = paste {
                switch input {
                case .key(.pasteEnd):
                    keys.append(.paste(String(pasted)))
                    paste = nil
                case .key(.enter): pasted.append("\n"); paste = pasted
                case .scalar(let scalar): pasted.append(scalar == "\r" ? "\n" : scalar); paste = pasted
                case .key: break
                }
                continue
            }
            switch input {
            case .key(let key):
                flushText()
                if key == .pasteStart { paste = String.UnicodeScalarView() } else if let mapped = Self.map(key) { keys.append(mapped) }
            case .scalar(let scalar):
                switch scalar.value {
                case 0x1B:
                    flushText()
                    // Escape then something in the same read is Alt with that key.
                    if index < inputs.count {
                        let next = inputs[index]
                        index += 1
                        switch next {
                        case .scalar(let s): keys.append(.meta(Character(s)))
                        case .key(.up): keys.append(.metaUp)
                        case .key(.down): keys.append(.metaDown)
                        case .key(let key): if let mapped = Self.map(key) { keys.append(mapped) }
                        }
                    } else {
                        keys.append(.escape)
                    }
                case 0x0D, 0x0A: flushText(); keys.append(.enter)
                case 0x7F, 0x08: flushText(); keys.append(.backspace)
                case 0x09: flushText(); keys.append(.tab)
                case 0x00..<0x20:
                    flushText()
                    keys.append(.control(Character(Unicode.Scalar(scalar.value + 0x60)!)))
                default: text.append(scalar)
                }
            }
        }
        flushText()
        return keys
    }

    private static func map(_ key: FunctionKey) -> Key? {
        switch key {
        case .up: .up
        case .down: .down
        case .left: .left
        case .right: .right
        case .home: .home
        case .end: .end
        case .pageUp: .pageUp
        case .pageDown: .pageDown
        case .backspace: .backspace
        case .delete: .delete
        case .enter: .enter
        case .metaUp: .metaUp
        case .metaDown: .metaDown
        case .resize: .resize
        case .pasteStart, .pasteEnd, .other: nil
        }
    }
}
