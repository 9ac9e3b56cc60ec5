// Throughput of XMLStreamParser on a realistic client stream: stanzas/s parsed into XMLElement
// values, fed in 4 KiB chunks as a socket would deliver them. Run through Scripts/bench-xml.
// Arguments: [stanzas per round] [rounds] [chat|bare]
import DialtoneXML

let header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    + "from='capulet.example' id='s1' version='1.0' xml:lang='en'>"

/// 362 bytes: a chat message as Conversations or Dino sends it (body, chat state, receipt
/// request, origin-id), with an id that changes every stanza.
func chatMessage(_ serial: Int) -> String {
    let tail = String(serial & 0xFFFF, radix: 16)
    let id = "a3f9c2e1-77b0-" + String(repeating: "0", count: 4 - tail.count) + tail
    return "<message from='juliet@capulet.example/balcony' to='romeo@montague.example/orchard' type='chat' id='\(id)' "
        + "xml:lang='en'><body>Art thou not Romeo, and a Montague? Neither, fair saint.</body>"
        + "<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>"
        + "<origin-id xmlns='urn:xmpp:sid:0' id='\(id)'/></message>"
}

/// The same message with no namespaced payloads, to show what the namespace declarations cost.
func bareMessage(_ serial: Int) -> String {
    let tail = String(serial & 0xFFFF, radix: 16)
    let id = "a3f9c2e1-77b0-" + String(repeating: "0", count: 4 - tail.count) + tail
    return "<message from='juliet@capulet.example/balcony' to='romeo@montague.example/orchard' type='chat' id='\(id)' "
        + "xml:lang='en'><body>Art thou not Romeo, and a Montague? Neither, fair saint, if either thee dislike.</body></message>"
}

/// Parses the whole stream in `chunk`-byte reads; returns the number of stanzas and a checksum
/// that keeps the optimizer from discarding the trees.
@inline(never)
func parseStream(_ bytes: [UInt8], chunk: Int) throws -> (stanzas: Int, checksum: Int) {
    let parser = XMLStreamParser()
    var stanzas = 0
    var checksum = 0
    try bytes.withUnsafeBytes { all in
        var offset = 0
        while offset < all.count {
            let end = min(offset + chunk, all.count)
            for event in try parser.feed(UnsafeRawBufferPointer(rebasing: all[offset..<end])) {
                if case .stanza(let element) = event {
                    stanzas += 1
                    checksum &+= element.children.count
                }
            }
            offset = end
        }
    }
    return (stanzas, checksum)
}

func run(_ name: String, count: Int, rounds: Int, chunk: Int, stanza: (Int) -> String) throws {
    var text = header
    for serial in 0..<count { text += stanza(serial) }
    let bytes = Array(text.utf8)
    var rates: [Double] = []
    var checksum = 0
    for _ in 0..<rounds {
        let start = ContinuousClock.now
        let result = try parseStream(bytes, chunk: chunk)
        let elapsed = (ContinuousClock.now - start).components
        let seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
        precondition(result.stanzas == count, "parsed \(result.stanzas) of \(count) stanzas")
        checksum &+= result.checksum
        rates.append(Double(count) / seconds)
    }
    rates.sort()
    let size = stanza(0).utf8.count
    let median = rates[rates.count / 2]
    let megabytes = median * Double(size) / 1e6
    print("\(name) (\(size) bytes, \(chunk)-byte chunks): median \(Int(median)) stanzas/s (\(Int(megabytes)) MB/s), "
          + "best \(Int(rates.last!)), worst \(Int(rates.first!)) over \(rounds) rounds of \(count) [\(checksum % 7)]")
}

let arguments = CommandLine.arguments
let count = arguments.count > 1 ? Int(arguments[1]) ?? 200_000 : 200_000
let rounds = arguments.count > 2 ? Int(arguments[2]) ?? 7 : 7
let only = arguments.count > 3 ? arguments[3] : nil
if only == nil || only == "chat" {
    try run("chat message", count: count, rounds: rounds, chunk: 4096, stanza: chatMessage)
}
if only == nil || only == "bare" {
    try run("bare message", count: count, rounds: rounds, chunk: 4096, stanza: bareMessage)
}
