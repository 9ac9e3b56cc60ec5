import DialtoneStore
import Foundation

/// An attachment as the user is shown it, and as it is saved and opened: one name for both,
/// so that what a viewer is handed is what was on the screen, whatever the link's path says.
public struct AttachmentFile: Sendable, Equatable {
    public let attachment: Attachment

    public init(_ attachment: Attachment) {
        self.attachment = attachment
    }

    /// The sender's (SIMS) name for it, else the link's last path component; never controls or
    /// bidi overrides, which could make the screen show another name than the file has.
    public var displayName: String {
        let name = Sanitizer.plain(attachment.name ?? MessageInterpreter.fileName(attachment.url) ?? "").trimmingCharacters(in: .whitespaces)
        return name.isEmpty ? "attachment" : name
    }

    /// "invoice.pdf (application/pdf)": the name, and the type when the sender claimed one.
    public var label: String {
        displayName + (attachment.mediaType.map { " (\(Sanitizer.plain($0)))" } ?? "")
    }

    /// The name it is saved under: the name shown, with nothing that could leave the
    /// downloads folder or hide the file (no "/", no leading dot), and short enough for it.
    public var fileName: String {
        var name = displayName.replacingOccurrences(of: "/", with: "_")
        if name.hasPrefix(".") { name = "download" + name }
        guard name.utf8.count > 200 else { return name }
        // The extension decides how the file is opened, so a long name loses its middle.
        let ext = (name as NSString).pathExtension
        let suffix = ext.isEmpty || ext.utf8.count > 20 ? "" : "." + ext
        var stem = Substring((name as NSString).deletingPathExtension)
        while stem.utf8.count + suffix.utf8.count > 200 { stem = stem.dropLast() }
        return stem + suffix
    }

    /// The sender's media type without parameters, lower-cased.
    public var claimedType: String? {
        guard let type = attachment.mediaType?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased(),
              !type.isEmpty else { return nil }
        return type
    }

    /// Fetched without TLS: anyone on the way could have changed it.
    public var isPlainHTTP: Bool { URL(string: attachment.url)?.scheme?.lowercased() == "http" }

    /// What to do with the fetched bytes: text only when they are text, whatever the sender
    /// says; nothing when the name and the claimed type disagree or the name is a program.
    public func opening(for bytes: [UInt8]) -> Opening {
        let ext = (fileName as NSString).pathExtension.lowercased()
        let nameType = MessageInterpreter.mediaType(forFileName: fileName)
        if Self.programExtensions.contains(ext) {
            return .notOpened("\(displayName) is a program or launcher, which Dialtone does not open.")
        }
        if claimedType?.hasPrefix("text/") == true || nameType?.hasPrefix("text/") == true || Self.textExtensions.contains(ext) {
            return Self.isText(bytes) ? .pager : .notOpened("\(displayName) is said to be text, but it is not.")
        }
        if let claimedType, let nameType, !Self.agree(claimedType, nameType) {
            return .notOpened("\(displayName) is said to be \(claimedType), which its name does not match.")
        }
        return .viewer
    }

    public enum Opening: Sendable, Equatable {
        /// Text, for $PAGER on the terminal.
        case pager
        /// For the desktop's viewer (xdg-open), which goes by the file's name.
        case viewer
        /// Saved only, for the reason given.
        case notOpened(String)
    }

    static let textExtensions: Set<String> = ["txt", "text", "md", "csv", "log", "vcf"]
    /// Names a desktop may run rather than show.
    static let programExtensions: Set<String> = [
        "desktop", "sh", "bash", "zsh", "csh", "run", "bin", "appimage", "jar", "exe", "msi", "bat", "cmd", "com",
        "ps1", "py", "pl", "rb", "deb", "rpm", "flatpakref", "flatpakrepo", "snap",
    ]

    /// Two types describe the same kind of file: equal, or the same top-level type outside
    /// application/* (image/jpg and image/jpeg, audio/ogg and audio/opus). A generic
    /// application/octet-stream claims nothing.
    static func agree(_ claimed: String, _ named: String) -> Bool {
        if claimed == named || claimed == "application/octet-stream" { return true }
        let top = claimed.split(separator: "/").first
        return top != "application" && top == named.split(separator: "/").first
    }

    /// UTF-8 with no controls but tab, line feed, form feed and carriage return: what a pager
    /// shows as it is. Escape sequences (ESC, C1) could drive the terminal instead.
    static func isText(_ bytes: [UInt8]) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let scalar):
                switch scalar.value {
                case 0x09, 0x0A, 0x0C, 0x0D: continue
                case 0x00...0x1F, 0x7F...0x9F: return false
                default: continue
                }
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// A fetched attachment: where it was saved and what opening it should do.
public struct DownloadedAttachment: Sendable, Equatable {
    public let file: AttachmentFile
    public let path: String
    public let opening: AttachmentFile.Opening

    public var opens: Bool {
        if case .notOpened = opening { false } else { true }
    }

    /// To show before opening a file that came without TLS.
    public var warning: String? {
        file.isPlainHTTP ? "\(file.displayName) came over plain http: it was not encrypted, and anyone on the way could have changed it." : nil
    }
}
