import Foundation

/// A number with DTMF to send once the call connects, as phones write it:
/// `+18005551234,,1234#` — each `,` a two-second pause, `;` a wait for the user.
public struct DialString: Sendable, Equatable {
    public enum Step: Sendable, Equatable {
        case pause(seconds: Double)
        case waitForUser
        case digits(String)
    }

    public var number: String
    public var steps: [Step]

    public init(number: String, steps: [Step]) {
        self.number = number
        self.steps = steps
    }

    /// Splits at the first `,` or `;`; what follows is DTMF. Text without either is just a number.
    public init(_ text: String) {
        guard let split = text.firstIndex(where: { $0 == "," || $0 == ";" }) else {
            self.init(number: text, steps: [])
            return
        }
        var steps: [Step] = []
        var digits = ""
        func flush() {
            if !digits.isEmpty { steps.append(.digits(digits)) }
            digits = ""
        }
        for character in text[split...] {
            switch character {
            case ",": flush(); steps.append(.pause(seconds: 2))
            case ";": flush(); steps.append(.waitForUser)
            case " ", "-": continue
            default: digits.append(character)
            }
        }
        flush()
        self.init(number: String(text[..<split]).trimmingCharacters(in: .whitespaces), steps: steps)
    }

    /// True when the text carries DTMF beyond the number (an address with `,` is a group text,
    /// not a dial string: only phone-number-looking text qualifies).
    public static func hasDTMF(_ text: String) -> Bool {
        guard let split = text.firstIndex(where: { $0 == "," || $0 == ";" }) else { return false }
        return !text.contains("@") && text[..<split].contains(where: \.isNumber)
            && text[split...].allSatisfy { ",; -0123456789*#ABCDabcd".contains($0) }
    }
}
