import DialtoneOMEMO
import DialtoneStore
import DialtoneXMPP
import Foundation

extension AccountSession {
    /// Fetches an attachment into the downloads folder under the name the screen showed for
    /// it (not the link's, which the sender also chose and could make "x.desktop" behind an
    /// "invoice.pdf"), and says how it may be opened.
    public func download(_ attachment: Attachment, progress: HTTPTransfer.Progress? = nil) async throws -> DownloadedAttachment {
        guard var parts = URLComponents(string: attachment.url), let scheme = parts.scheme?.lowercased(),
              ["https", "http", "aesgcm"].contains(scheme) else {
            throw HTTPError.unsupportedURL(attachment.url)
        }
        // An encrypted file (XEP-0454): fetched over https without the fragment, which is the
        // key; decrypted and checked against its tag before anything is written.
        let fragment = scheme == "aesgcm" ? parts.fragment : nil
        if scheme == "aesgcm" {
            parts.scheme = "https"
            parts.fragment = nil
        }
        guard let url = parts.url else { throw HTTPError.unsupportedURL(attachment.url) }
        var bytes = try await http.get(url, progress: progress)
        if let fragment {
            do { bytes = try OMEMOMedia.open(bytes, fragment: fragment) } catch { throw EncryptedFileError.damaged(attachment.url) }
        } else if scheme == "aesgcm" {
            throw EncryptedFileError.damaged(attachment.url)
        }
        let file = AttachmentFile(attachment)
        let path = try Self.save(bytes, as: file.fileName, in: Paths.downloads)
        return DownloadedAttachment(file: file, path: path, opening: file.opening(for: bytes))
    }

    /// A link as typed (`dialtone download URL`): the stored attachment with that link, so the
    /// file gets the name `listen` and `history` showed, or the bare link when none has it.
    public func download(_ link: String, progress: HTTPTransfer.Progress? = nil) async throws -> DownloadedAttachment {
        let known = try? store.attachment(url: link)
        return try await download(known ?? Attachment(url: link), progress: progress)
    }

    /// Writes a new file (owner-only), never over an existing one: "name-2.ext" and so on.
    static func save(_ bytes: [UInt8], as name: String, in directory: String) throws -> String {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var target = (directory as NSString).appendingPathComponent(name)
        var counter = 1
        while FileManager.default.fileExists(atPath: target) {
            counter += 1
            let base = (name as NSString).deletingPathExtension
            let ext = (name as NSString).pathExtension
            target = (directory as NSString).appendingPathComponent("\(base)-\(counter)" + (ext.isEmpty ? "" : ".\(ext)"))
        }
        guard FileManager.default.createFile(atPath: target, contents: Data(bytes), attributes: [.posixPermissions: 0o600]) else {
            throw AttachmentError.unwritable(target)
        }
        return target
    }
}
