import Foundation
import SwiftCSV

/// Contacts from CSV exports (Google Contacts, Outlook, phones): the header row says which
/// columns hold names, numbers and XMPP addresses.
public enum CSVContacts {
    public static func parse(_ text: String) throws -> [ContactCard] {
        let csv = try CSV<Enumerated>(string: text, delimiter: .comma, loadColumns: false)
        let header = csv.header.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        func column(_ names: [String]) -> Int? { header.firstIndex { names.contains($0) } }
        let fullName = column(["name", "full name", "display name", "fn", "display_name"])
        let given = column(["given name", "first name", "given_name", "first_name", "firstname"])
        let family = column(["family name", "last name", "family_name", "last_name", "surname", "lastname"])
        // Google writes "Phone 1 - Value" beside "Phone 1 - Type"; others "Mobile Phone", "phone".
        let phoneColumns = header.indices.filter {
            let name = header[$0]
            return (name.contains("phone") || name.contains("mobile") || name == "tel" || name.contains("number"))
                && !name.contains("type") && !name.contains("label")
        }
        let phoneLabels: [Int: Int] = Dictionary(uniqueKeysWithValues: phoneColumns.compactMap { index in
            let name = header[index]
            guard name.hasSuffix(" - value") else { return nil }
            let typeName = name.replacingOccurrences(of: " - value", with: " - type")
            return header.firstIndex(of: typeName).map { (index, $0) }
        })
        let jidColumns = header.indices.filter { header[$0].contains("xmpp") || header[$0].contains("jabber") }
        let uidColumn = column(["uid", "id"])

        var cards: [ContactCard] = []
        for row in csv.rows {
            func value(_ index: Int?) -> String {
                guard let index, index < row.count else { return "" }
                return row[index].trimmingCharacters(in: .whitespaces)
            }
            var name = value(fullName)
            if name.isEmpty { name = [value(given), value(family)].filter { !$0.isEmpty }.joined(separator: " ") }
            var card = ContactCard(uid: value(uidColumn).isEmpty ? nil : value(uidColumn), name: name)
            for index in phoneColumns {
                // Google joins several numbers of one type with " ::: ".
                for number in value(index).components(separatedBy: ":::") {
                    let trimmed = number.trimmingCharacters(in: .whitespaces)
                    if !trimmed.isEmpty {
                        let label = phoneLabels[index].map(value)
                        card.phones.append((trimmed, label?.isEmpty == false ? label?.lowercased() : nil))
                    }
                }
            }
            for index in jidColumns where !value(index).isEmpty {
                card.jids.append(value(index).replacingOccurrences(of: "xmpp:", with: ""))
            }
            if card.name.isEmpty { card.name = card.phones.first?.number ?? card.jids.first ?? "" }
            if !card.name.isEmpty && (!card.phones.isEmpty || !card.jids.isEmpty) { cards.append(card) }
        }
        return cards
    }

    static func field(_ value: String) -> String {
        value.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : value
    }
}
