import Foundation
import GRDB

extension Store {
    /// The newest stored attachment with this link, with the name and type it was shown with.
    public func attachment(url: String) throws(StoreError) -> Attachment? {
        try reading { db in
            let message = try StoredMessage.fetchOne(db, sql: """
                SELECT * FROM message WHERE EXISTS
                    (SELECT 1 FROM json_each(message.attachments) WHERE json_extract(value, '$.url') = ?)
                ORDER BY id DESC LIMIT 1
                """, arguments: [url])
            return message?.attachments.first { $0.url == url }
        }
    }
}
