@testable import DialtoneCore
import Foundation
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Logging

extension MessagingService {
    /// The messaging feature of `account` over `store`, with a client that never connects:
    /// what it sends waits in the outbox, what the test hands `receive` is stored.
    static func offline(account: JID, store: Store, gateway: JID? = nil) -> MessagingService {
        let client = XMPPClient(configuration: XMPPClientConfiguration(jid: account, password: "x")) { _ in }
        return MessagingService(account: account, store: store, client: client, broadcaster: EventBroadcaster(),
                                http: HTTPTransfer(nameserver: nil, caFile: nil),
                                interpreter: MessageInterpreter(account: account, gateway: gateway),
                                archive: ArchiveSync(store: store, client: client, logger: .init(label: "test")),
                                logger: .init(label: "test"))
    }
}

extension ReceivedMessage {
    /// `message` as it arrives live from `sender` (a full address).
    static func live(_ message: Message, from sender: String = "ada@example.org/phone") -> ReceivedMessage {
        var element = message.element
        element[attribute: "from"] = sender
        return ReceivedMessage(message: Message(element), direction: .incoming, source: .live, archiveID: nil, timestamp: Date())
    }
}
