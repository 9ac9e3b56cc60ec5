import DialtoneXML
import Foundation

public enum MessageType: String, Sendable, Codable {
    case chat, normal, groupchat, headline, error
}

/// A message stanza read into the fields Dialtone acts on; `element` keeps the whole
/// stanza for the layers above (group-text addressing, attachments) to read further.
public struct Message: Sendable, Equatable {
    public var id: String?
    public var from: JID?
    public var to: JID?
    public var type: MessageType
    public var body: String?
    public var subject: String?
    public var thread: String?
    /// XEP-0359 origin-id: the sender's own id, stable across resends.
    public var originID: String?
    /// XEP-0359 stanza-ids, keyed by the JID that assigned them (an archive).
    public var stanzaIDs: [JID: String]
    /// XEP-0203 delays, in stanza order: each says who stamped it, which decides whether it
    /// is believed (see `XMPPClient.timestamp`). Anyone can add one, naming anyone.
    public var delays: [Delay]
    /// The first delay's stamp: a claim of the sender's unless the stanza came from our archive.
    public var delayedUntil: Date? { delays.first?.stamp }
    public var outOfBandURLs: [OutOfBandData]
    public var requestsReceipt: Bool
    public var receiptFor: String?
    public var element: XMLElement

    public init(_ element: XMLElement) {
        self.element = element
        id = element[attribute: "id"]
        from = element.fromAddress.jid
        to = element.toAddress.jid
        type = element[attribute: "type"].flatMap(MessageType.init(rawValue:)) ?? .normal
        body = element.childText("body", namespace: Namespace.client)
        subject = element.childText("subject", namespace: Namespace.client)
        thread = element.childText("thread", namespace: Namespace.client)
        originID = element.child("origin-id", namespace: Namespace.stanzaID)?[attribute: "id"]
        var ids: [JID: String] = [:]
        for stanzaID in element.children("stanza-id", namespace: Namespace.stanzaID) {
            if let by = stanzaID[attribute: "by"].flatMap({ try? JID($0) }), let value = stanzaID[attribute: "id"] {
                ids[by] = value
            }
        }
        stanzaIDs = ids
        delays = element.children("delay", namespace: Namespace.delay).compactMap { delay in
            delay[attribute: "stamp"].flatMap(XMPPDateTime.parse).map { Delay(from: delay[attribute: "from"].flatMap { try? JID($0) }, stamp: $0) }
        }
        outOfBandURLs = element.children("x", namespace: Namespace.oob).compactMap { x in
            x.childText("url", namespace: Namespace.oob).map { OutOfBandData(url: $0, description: x.childText("desc", namespace: Namespace.oob)) }
        }
        requestsReceipt = element.child("request", namespace: Namespace.receipts) != nil
        receiptFor = element.child("received", namespace: Namespace.receipts)?[attribute: "id"]
    }

    /// The XEP-0184 receipt this message asks for, when it is one we answer (not group chat, not errors).
    public var receiptReply: XMLElement? {
        guard requestsReceipt, type == .chat || type == .normal, let id, let from else { return nil }
        var receipt = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": from.description, "id": newStanzaID(), "type": type.rawValue])
        receipt.append(XMLElement("received", namespace: Namespace.receipts, attributes: [XMLAttribute("id", id)]))
        receipt.append(XMLElement("store", namespace: Namespace.hints))
        return receipt
    }

    /// A new chat message with an origin-id equal to its id, asking for a receipt. A group
    /// chat's message (`type` groupchat) asks for neither receipt nor marker: a room's
    /// occupants do not answer for each other (XEP-0184 §5.3).
    public static func chat(to: JID, body: String, id: String = newStanzaID(), type: MessageType = .chat,
                            subject: String? = nil, outOfBand: [OutOfBandData] = [], privateInRoom: Bool = false) -> Message {
        var element = XMLElement("message", namespace: Namespace.client,
                                 attributes: ["to": to.description, "type": type.rawValue, "id": id])
        if let subject { element.append(.textElement("subject", namespace: Namespace.client, subject)) }
        element.append(.textElement("body", namespace: Namespace.client, body))
        for data in outOfBand {
            var x = XMLElement("x", namespace: Namespace.oob)
            x.append(.textElement("url", namespace: Namespace.oob, data.url))
            if let description = data.description { x.append(.textElement("desc", namespace: Namespace.oob, description)) }
            element.append(x)
        }
        if type != .groupchat { element.append(XMLElement("request", namespace: Namespace.receipts)) }
        element.append(XMLElement("origin-id", namespace: Namespace.stanzaID, attributes: [XMLAttribute("id", id)]))
        if type != .groupchat { element.append(XMLElement("markable", namespace: "urn:xmpp:chat-markers:0")) }
        // A private message to a room's occupant says so (XEP-0045 §7.5), as Conversations
        // does, so that servers copy it to our other devices as one.
        if privateInRoom { element.append(XMLElement("x", namespace: Namespace.mucUser)) }
        return Message(element)
    }
}

public struct OutOfBandData: Sendable, Equatable, Codable {
    public var url: String
    public var description: String?
    public init(url: String, description: String? = nil) {
        self.url = url
        self.description = description
    }
}

/// Unique, unguessable ids for stanzas we originate.
public func newStanzaID() -> String { lowercaseHex(SecureRandom.bytes(12)) }

/// Bytes as lower-case hex. A table, not String(format:): that builds a locale per byte, 5 % of
/// a burst's CPU (stanza ids, and message digests for those without an origin-id).
public func lowercaseHex(_ bytes: some Collection<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text = [UInt8]()
    text.reserveCapacity(bytes.count * 2)
    for byte in bytes {
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: text, as: UTF8.self)
}

/// XEP-0082 date-times, as delays and archives carry them.
public enum XMPPDateTime {
    public static func parse(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601) { return date }
        let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        return try? fractional.parse(text)
    }

    public static func format(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }
}

/// An XEP-0203 delay element: who says the stanza was held back, and since when.
public struct Delay: Sendable, Equatable {
    public var from: JID?
    public var stamp: Date

    public init(from: JID?, stamp: Date) {
        self.from = from
        self.stamp = stamp
    }
}
