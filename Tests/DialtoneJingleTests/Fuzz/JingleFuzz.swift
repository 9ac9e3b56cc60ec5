// libFuzzer entry point, built only by Scripts/fuzz (the test target excludes this folder),
// which compiles DialtoneJingle's protocol files with the XML, JID, stanza, candidate,
// fingerprint and Opus-settings sources they use into one module.
// The input is a stanza as a peer could send it: it is parsed as XML, then read as a Jingle iq
// (XEP-0166/0167/0176/0320/0338) and as a message carrying a XEP-0353 call initiation, and
// every Jingle element inside it is read too. Whatever parses is used as the call code uses it
// (codec choice, Opus settings, candidates, fingerprints, the reason shown) and written back
// out, which must give XML that reads as the same action.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let stanza = try? XMLElement(parsing: text, limits: XMLStreamLimits(maxStanzaBytes: 8192, maxDepth: 16)) else { return 0 }
    _ = stanza.fromAddress
    _ = stanza.toAddress
    if let action = try? JingleAction(iq: stanza) { use(action) }
    for jingle in descendants(of: stanza) where jingle.name == "jingle" {
        if let action = try? JingleAction(jingle) { use(action) }
    }
    if let initiation = MessageInitiation(message: stanza) {
        if case .reject(let reason?) = initiation.action { _ = reason.description }
        let again = MessageInitiation(message: XMLElement("message", namespace: "jabber:client", children: [.element(initiation.element)]))
        if again != initiation { fatalError("call initiation changed on a round trip: \(initiation) -> \(String(describing: again))") }
        _ = initiation.message(to: try! JID("a@example.org"), stanzaID: "x").serialized()
    }
    _ = stanza.jingleError(StanzaError(type: "cancel", condition: "bad-request"), jingleCondition: "unknown-session").serialized()
    return 0
}

private func use(_ action: JingleAction) {
    if let audio = action.audio, let description = audio.description {
        _ = description.preferredAudio?.applied(to: OpusEncoderSettings())
        _ = description.telephoneEvent
    }
    for content in action.contents {
        for candidate in content.transport?.candidates ?? [] { _ = candidate.sdp }
        if let fingerprint = content.transport?.fingerprint { _ = fingerprintString(fingerprint.value) }
    }
    _ = action.reason?.description
    let element = action.element
    _ = action.iq(to: try! JID("a@example.org/r"), id: "x").serialized()
    do {
        let again = try JingleAction(try XMLElement(parsing: element.serialized()))
        if again.kind != action.kind || again.sid != action.sid || again.contents.count != action.contents.count
            || again.reason != action.reason || again.bundle != action.bundle {
            fatalError("Jingle action changed on a round trip: \(action) -> \(again)")
        }
    } catch {
        fatalError("Jingle action we wrote does not read back (\(error)): \(element.serialized())")
    }
}

private func descendants(of element: XMLElement) -> [XMLElement] {
    element.elements + element.elements.flatMap(descendants)
}
