import DialtoneXML
import Foundation

/// XEP-0363 HTTP File Upload: find the account's upload service and ask it for a slot.
extension XMPPClient {
    public struct UploadService: Sendable, Equatable {
        public var jid: JID
        public var maximumSize: Int?
    }

    public struct UploadSlot: Sendable, Equatable {
        public var putURL: URL
        public var getURL: URL
        /// Headers the PUT must carry (only the three the XEP allows are kept).
        public var headers: [String: String]
    }

    /// The upload service among our server's items (disco#items, then disco#info on each).
    public func uploadService() async throws -> UploadService? {
        let domain = JID(verified: configuration.jid.domain)
        let items = try await request(.iq(.get, id: newStanzaID(), to: domain, payload: XMLElement("query", namespace: Namespace.discoItems)))
        var candidates = [domain]
        candidates += items.child("query", namespace: Namespace.discoItems)?.children("item", namespace: Namespace.discoItems)
            .compactMap { $0[attribute: "jid"].flatMap { try? JID($0) } } ?? []
        for candidate in candidates {
            guard let info = try? await request(.iq(.get, id: newStanzaID(), to: candidate,
                                                    payload: XMLElement("query", namespace: Namespace.discoInfo))),
                  let query = info.child("query", namespace: Namespace.discoInfo),
                  query.children("feature", namespace: Namespace.discoInfo).contains(where: { $0[attribute: "var"] == Namespace.httpUpload })
            else { continue }
            let limit = query.children("x", namespace: Namespace.dataForms)
                .first { form in form.children("field", namespace: Namespace.dataForms).contains { $0[attribute: "var"] == "FORM_TYPE" && $0.childText("value", namespace: Namespace.dataForms) == Namespace.httpUpload } }?
                .children("field", namespace: Namespace.dataForms).first { $0[attribute: "var"] == "max-file-size" }?
                .childText("value", namespace: Namespace.dataForms).flatMap(Int.init)
            return UploadService(jid: candidate, maximumSize: limit)
        }
        return nil
    }

    public func requestUploadSlot(from service: UploadService, fileName: String, size: Int, contentType: String) async throws -> UploadSlot {
        if let limit = service.maximumSize, size > limit { throw UploadError.tooLarge(size: size, limit: limit) }
        let slotRequest = XMLElement("request", namespace: Namespace.httpUpload, attributes: [
            XMLAttribute("filename", fileName), XMLAttribute("size", String(size)), XMLAttribute("content-type", contentType),
        ])
        let answer: XMLElement
        do {
            answer = try await request(.iq(.get, id: newStanzaID(), to: service.jid, payload: slotRequest))
        } catch let error as StanzaError where error.condition == "not-acceptable" || error.condition == "resource-constraint" {
            throw UploadError.refused(error.text ?? error.condition.replacingOccurrences(of: "-", with: " "))
        }
        guard let slot = answer.child("slot", namespace: Namespace.httpUpload),
              let put = slot.child("put", namespace: Namespace.httpUpload), let putURL = put[attribute: "url"].flatMap(URL.init(string:)),
              let getURL = slot.child("get", namespace: Namespace.httpUpload)?[attribute: "url"].flatMap(URL.init(string:)),
              putURL.scheme == "https", getURL.scheme == "https" else {
            throw UploadError.malformedSlot
        }
        var headers: [String: String] = [:]
        for header in put.children("header", namespace: Namespace.httpUpload) {
            // XEP-0363 allows only these; anything else could smuggle credentials or requests.
            guard let name = header[attribute: "name"], ["authorization", "cookie", "expires"].contains(name.lowercased()) else { continue }
            headers[name] = header.text.replacingOccurrences(of: "\r", with: "").replacingOccurrences(of: "\n", with: "")
        }
        return UploadSlot(putURL: putURL, getURL: getURL, headers: headers)
    }
}

public enum UploadError: Error, Sendable, Equatable, CustomStringConvertible {
    case noService
    case tooLarge(size: Int, limit: Int)
    case refused(String)
    case malformedSlot

    public var description: String {
        switch self {
        case .noService: "The server offers no file upload (XEP-0363)."
        case .tooLarge(let size, let limit): "The file is \(size) bytes; the server takes at most \(limit)."
        case .refused(let why): "The server refused the upload (\(why))."
        case .malformedSlot: "The server's upload slot could not be read."
        }
    }
}
