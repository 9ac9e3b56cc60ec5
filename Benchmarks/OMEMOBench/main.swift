// OMEMO benchmark (issue 17): CPU to set up a session from a bundle, to encrypt one message
// (for one device and for five) and to decrypt one, each the whole way a message goes in
// Dialtone — the stanza built or parsed, the payload and the per-device keys, the sessions
// read from and written to the SQLite store as the encryption service does — beside the same
// message in plain text. Run through Scripts/bench-omemo (release build); figures go to
// docs/benchmarks.md.
@_spi(Bench) import DialtoneCore
import DialtoneOMEMO
import DialtoneStore
import DialtoneXML
import DialtoneXMPP
import Foundation

func cpuSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// Microseconds of CPU an operation, the median of 5 rounds of `count`.
func perOperation(_ count: Int, _ body: (Int) throws -> Void) rethrows -> Double {
    var rounds: [Double] = []
    var index = 0
    for _ in 0..<5 {
        let start = cpuSeconds()
        for _ in 0..<count {
            try body(index)
            index += 1
        }
        rounds.append((cpuSeconds() - start) / Double(count) * 1e6)
    }
    return rounds.sorted()[2]
}

let directory = NSTemporaryDirectory() + "dialtone-omemobench-\(getpid())"
try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(atPath: directory) }

/// A device whose records are in its own SQLite store, as an account's is.
func device(_ name: String) throws -> (OMEMODevice, Store) {
    let store = try Store(path: "\(directory)/\(name).sqlite")
    return (try OMEMODevice(context: try OMEMOContext(), records: StoreKeeper(store: store)), store)
}

let me = JID(verified: "me@example.com")
let ada = JID(verified: "ada@example.org")
let text = "Are we still on for dinner at eight? I can bring the wine if you like."
var report: [(String, Double)] = []

for format in OMEMOFormat.allCases {
    let version: OMEMOVersion = format == .legacy ? .legacy : .current
    let name = format == .legacy ? "legacy" : "omemo:2"
    let (sender, _) = try device("sender-\(name)")
    let receivers = try (0..<5).map { try device("receiver-\(name)-\($0)").0 }
    let bundles = try receivers.map { try $0.bundle(format) }

    report.append(("\(name): session from a bundle", try perOperation(20) { index in
        try sender.startSession(with: "setup@example.org", device: UInt32(index + 1), bundle: bundles[0], format: format)
    }))
    for (receiver, bundle) in zip(receivers, bundles) {
        try sender.startSession(with: ada.description, device: receiver.id, bundle: bundle, format: format)
    }

    func encrypt(_ recipients: ArraySlice<OMEMODevice>) throws -> String {
        let plaintext = format == .legacy ? Array(text.utf8) : SCEEnvelope(body: text, from: me).serialized()
        let sealed = try OMEMOPayload.seal(plaintext, format: format, context: sender.context)
        let keys = try recipients.map { receiver in
            let key = try sender.encryptKey(sealed.keyMaterial, for: ada.description, device: receiver.id, format: format)
            return OMEMOEncrypted.Key(account: format == .current ? ada.description : nil, device: receiver.id,
                                      isKeyExchange: key.isKeyExchange, data: key.data)
        }
        let element = OMEMOEncrypted(version: version, senderDevice: sender.id, keys: keys, iv: sealed.iv, payload: sealed.payload)
        return Message.chat(to: ada, body: text, id: newStanzaID()).encrypted([element]).serialized
    }
    // The first message carries the key exchange; the receiver answers, as in a conversation.
    let first = try encrypt(receivers[0...0])
    guard let firstKey = Message(try XMLElement(parsing: first)).omemoElements.first?.keys.first else { fatalError("no key") }
    _ = try receivers[0].decryptKey(firstKey.data, isKeyExchange: true, from: me.description, device: sender.id, format: format)
    let answer = try receivers[0].encryptKey(Array(repeating: 1, count: format == .legacy ? 32 : 48), for: me.description,
                                             device: sender.id, format: format)
    _ = try sender.decryptKey(answer.data, isKeyExchange: false, from: ada.description, device: receivers[0].id, format: format)

    var stanzas: [String] = []
    report.append(("\(name): encrypt and build a message, 1 device", try perOperation(200) { _ in
        stanzas.append(try encrypt(receivers[0...0]))
    }))
    report.append(("\(name): encrypt and build a message, 5 devices", try perOperation(100) { _ in
        _ = try encrypt(receivers[0...4])
    }))
    let receiver = receivers[0]
    report.append(("\(name): parse and decrypt a message", try perOperation(200) { index in
        let message = Message(try XMLElement(parsing: stanzas[index]))
        guard let element = message.omemoElements.first, let key = element.keys.first(where: { $0.device == receiver.id }),
              let payload = element.payload else { fatalError("no key for the receiver") }
        let material = try receiver.decryptKey(key.data, isKeyExchange: key.isKeyExchange, from: me.description, device: element.senderDevice,
                                               format: format)
        let plaintext = try OMEMOPayload.open(payload, iv: element.iv, keyMaterial: material, format: format, context: receiver.context)
        let body = format == .legacy ? String(decoding: plaintext, as: UTF8.self) : SCEEnvelope(decrypted: plaintext)?.body
        precondition(message.decrypted(body: body).body == text)
    }))
}

var plain: [String] = []
report.append(("plain text: build a message", perOperation(1000) { _ in plain.append(Message.chat(to: ada, body: text, id: newStanzaID()).serialized) }))
report.append(("plain text: parse a message", try perOperation(1000) { index in
    let parsed = Message(try XMLElement(parsing: plain[index]))
    precondition(parsed.body == text)
}))

for (name, microseconds) in report {
    print(name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%8.1f µs CPU", microseconds))
}
