import DialtoneStore
import DialtoneXMPP
import Foundation

/// How a received stanza becomes a history entry: which conversation it belongs to, who wrote
/// it, and what text and attachments it carries — with the conventions of JMP/Cheogram for
/// group texts, MMS and voicemail.
public struct MessageInterpreter: Sendable {
    public let account: JID
    /// The phone gateway: only it may name group-text senders and participants.
    public let gateway: JID?

    public init(account: JID, gateway: JID?) {
        self.account = account.bare
        self.gateway = gateway
    }

    public func interpret(_ received: ReceivedMessage) -> (peer: String, message: StoredMessage)? {
        let message = received.message
        // A private message in a room stays with its occupant (room/nick); any other with the account.
        guard message.type != .error, let peer = received.privateInRoom ? received.peer : received.peer?.bare else { return nil }
        let incoming = received.direction == .incoming
        var body = message.body
        var sender = incoming ? message.from ?? peer : account
        var conversation = peer

        if incoming, isGateway(peer.domain) {
            if peer.local?.contains(",") == true {
                // A group text: the gateway names the writer in an ofrom address or a body prefix.
                let named = Self.groupSender(message, gatewayDomain: peer.domain)
                if let prefixed = named.strippedBody { body = prefixed }
                sender = named.sender ?? peer
            } else if let group = Self.participants(message, from: peer, account: account, gatewayDomain: peer.domain) {
                // A 1:1 address with XEP-0033 to/cc addresses is a group too: thread by participants.
                conversation = group
                sender = peer
            }
        }

        var reply: MessageReply?
        if let answered = message.reply {
            let (quote, rest) = Self.splittingReplyQuote(message, body: body)
            body = rest
            reply = MessageReply(id: answered.id, author: answered.to?.bare.description, quote: quote)
        }
        let attachments = Self.attachments(message)
        body = Self.bodyWithoutRepeatedLinks(body, attachments: attachments)
        // A message that could not be decrypted is kept, saying why, rather than vanishing.
        guard body != nil || message.subject != nil || !attachments.isEmpty || received.decryption?.failure != nil else { return nil }
        var stored = StoredMessage(
            direction: incoming ? .incoming : .outgoing, sender: sender.description, body: body,
            subject: message.subject, stanzaID: message.id, dedupeKey: Self.dedupeKey(message, attachments: attachments),
            archiveID: received.archiveID, timestamp: received.timestamp,
            status: incoming ? .received : .sent, attachments: attachments, reply: reply,
            markable: message.isMarkable, stanzaXML: message.serialized)
        stored.encryption = received.decryption.map {
            MessageEncryption(scheme: $0.scheme, device: $0.senderDevice == 0 ? nil : $0.senderDevice,
                              trust: $0.trust.flatMap(OMEMOTrust.init(rawValue:)), failure: $0.failure)
        }
        return (conversation.description, stored)
    }

    /// A reply's body without the quote its XEP-0428 fallback marks (the text the sender
    /// wrote), and that quote without its "> " marks, for when history lacks the original.
    static func splittingReplyQuote(_ message: Message, body: String?) -> (quote: String?, body: String?) {
        guard let body, let (start, end) = message.replyFallback, start == 0, end > 0, end <= body.unicodeScalars.count
        else { return (nil, body) }
        let quoted = String(String.UnicodeScalarView(body.unicodeScalars.prefix(end)))
        let rest = String(String.UnicodeScalarView(body.unicodeScalars.dropFirst(end)))
        let lines = quoted.split(separator: "\n").map { line in
            line.hasPrefix("> ") ? line.dropFirst(2) : line.hasPrefix(">") ? line.dropFirst() : line
        }
        var kept = lines.filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        // "> Anna wrote:" or "> Anna:" above the quote names its author; the quote is below.
        if kept.count > 1, kept[0].hasSuffix(":") { kept.removeFirst() }
        let quote = kept.first.map(String.init)
        return (quote.map { String($0.prefix(120)) }, rest.isEmpty ? nil : rest)
    }

    private func isGateway(_ domain: String) -> Bool { gateway?.domain == domain }

    /// What identifies a message among its sender's: the origin-id (XEP-0359), which the
    /// sender makes unique; else the stanza id together with the content. A stanza id alone
    /// is not unique (clients reuse and restart counters), and taking a new message for an
    /// old one would drop it after the server has our ack. The server's stanza-id, where
    /// there is one, is matched before this (the archive id).
    static func dedupeKey(_ message: Message, attachments: [Attachment]) -> String? {
        if let originID = message.originID { return originID }
        guard let id = message.id else { return nil }
        var content: [UInt8] = []
        for part in [message.body, message.subject] + attachments.map({ Optional($0.url) }) {
            // Length-prefixed, so no two different contents read the same.
            let bytes = Array((part ?? "").utf8)
            content += Array("\(part == nil ? -1 : bytes.count):".utf8) + bytes
        }
        return "\(id) \(lowercaseHex(SCRAMHash.sha256.digest(content).prefix(16)))"
    }

    // MARK: Group texts

    static func groupSender(_ message: Message, gatewayDomain: String) -> (sender: JID?, strippedBody: String?) {
        var sender: JID?
        for address in message.extendedAddresses where address.type == "ofrom" {
            if let jid = address.jid, jid.domain == gatewayDomain { sender = jid.bare }
        }
        guard let body = message.body else { return (sender, nil) }
        // The XEP-0428 fallback marks the prefix exactly; without it, recognise the form.
        if let (start, end) = message.bodyFallback, start == 0, end > 0, end <= body.unicodeScalars.count {
            let prefix = String(String.UnicodeScalarView(body.unicodeScalars.prefix(end)))
            let rest = String(String.UnicodeScalarView(body.unicodeScalars.dropFirst(end)))
            return (sender ?? Self.prefixSender(prefix, gatewayDomain: gatewayDomain), rest)
        }
        if body.hasPrefix("<xmpp:"), let match = body.prefixMatch(of: #/<xmpp:([^>\s]+)> /#) {
            let named = Self.prefixSender(String(match.output.0), gatewayDomain: gatewayDomain)
            if named != nil { return (sender ?? named, String(body[match.range.upperBound...])) }
        }
        return (sender, nil)
    }

    private static func prefixSender(_ prefix: String, gatewayDomain: String) -> JID? {
        guard let match = prefix.firstMatch(of: #/<xmpp:([^>\s]+)>/#), let jid = try? JID(String(match.output.1)),
              jid.domain == gatewayDomain else { return nil }
        return jid.bare
    }

    /// The group address for a message whose XEP-0033 addresses name other participants.
    static func participants(_ message: Message, from peer: JID, account: JID, gatewayDomain: String) -> JID? {
        let addresses = message.extendedAddresses
        guard !addresses.isEmpty else { return nil }
        var numbers: Set<String> = [peer.local ?? ""]
        for address in addresses where ["to", "cc"].contains(address.type ?? "") {
            guard let jid = address.jid?.bare, jid != account else { continue }
            guard jid.domain == gatewayDomain, let local = jid.local else { return nil }
            numbers.insert(local)
        }
        guard numbers.count >= 2 else { return nil }
        return try? JID(local: numbers.sorted().joined(separator: ","), domain: gatewayDomain)
    }

    // MARK: Attachments

    static func attachments(_ message: Message) -> [Attachment] {
        var result: [Attachment] = message.outOfBandURLs.map {
            Attachment(url: $0.url, description: $0.description, mediaType: mediaType(forURL: $0.url), name: fileName($0.url))
        }
        // XEP-0385 SIMS: a reference to media with its type, name and size.
        for media in message.sharedMedia {
            for url in media.sources where url.hasPrefix("http") {
                let described = Attachment(
                    url: url, description: media.description, mediaType: media.mediaType ?? mediaType(forURL: url),
                    name: media.name ?? fileName(url), size: media.size)
                if let index = result.firstIndex(where: { $0.url == url }) {
                    result[index].mediaType = described.mediaType ?? result[index].mediaType
                    result[index].name = described.name ?? result[index].name
                    result[index].size = described.size ?? result[index].size
                } else {
                    result.append(described)
                }
            }
        }
        // A link as the whole body is an attachment too: a bare media link (Cheogram sends both),
        // or an encrypted file (XEP-0454), whatever its type. Every message passes here: the
        // cheap test for a link comes first.
        if result.isEmpty, let raw = message.body, raw.contains("://"),
           case let body = raw.trimmingCharacters(in: .whitespacesAndNewlines), !body.contains(where: \.isWhitespace) {
            if body.hasPrefix("https://"), let type = mediaType(forURL: body) {
                result.append(Attachment(url: body, mediaType: type, name: fileName(body)))
            } else if body.prefix(9).lowercased() == "aesgcm://", URL(string: body) != nil {
                result.append(Attachment(url: body, mediaType: mediaType(forURL: body), name: fileName(body)))
            }
        }
        return result
    }

    /// The text without lines that only repeat an attachment's link: the attachment shows once.
    static func bodyWithoutRepeatedLinks(_ body: String?, attachments: [Attachment]) -> String? {
        guard let body, !attachments.isEmpty else { return body }
        let urls = Set(attachments.map(\.url))
        let kept = body.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !urls.contains($0.trimmingCharacters(in: .whitespaces)) }
        let text = kept.joined(separator: "\n").trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    static func fileName(_ url: String) -> String? {
        guard let path = URL(string: url)?.path, let last = path.split(separator: "/").last else { return nil }
        return last.removingPercentEncoding ?? String(last)
    }

    static func mediaType(forURL url: String) -> String? {
        fileName(url).flatMap(mediaType(forFileName:))
    }

    static func mediaType(forFileName name: String) -> String? {
        guard let dot = name.lastIndex(of: ".") else { return nil }
        switch name[name.index(after: dot)...].lowercased() {
        case "ogg", "oga", "opus": return "audio/ogg"
        case "mp3": return "audio/mpeg"
        case "m4a": return "audio/mp4"
        case "wav": return "audio/wav"
        case "amr": return "audio/amr"
        case "flac": return "audio/flac"
        case "jpg", "jpeg": return "image/jpeg"
        case "png": return "image/png"
        case "gif": return "image/gif"
        case "webp": return "image/webp"
        case "heic": return "image/heic"
        case "mp4": return "video/mp4"
        case "3gp": return "video/3gpp"
        case "vcf": return "text/vcard"
        case "txt": return "text/plain"
        case "pdf": return "application/pdf"
        default: return nil
        }
    }
}
