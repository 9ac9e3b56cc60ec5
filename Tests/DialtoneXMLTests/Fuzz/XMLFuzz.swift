// libFuzzer entry point, built only by Scripts/fuzz (the test target excludes this folder).
// The input is what a server could send on a stream: its first byte picks the size of the
// reads (1 to 256 bytes, so tags, entities and UTF-8 sequences are split everywhere), the
// rest is fed to the stream parser read by read. Limits are small so that the size and depth
// refusals are reached too. Every stanza that comes out must serialize to XML that parses
// back to the same element (the serializer promises well-formed output whatever it holds).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let step = Int(data[0]) + 1
    // Pieces point into libFuzzer's own buffer, so a read past an input's end is caught.
    let input = UnsafeRawPointer(data + 1)
    let count = size - 1
    let parser = XMLStreamParser(limits: XMLStreamLimits(maxStanzaBytes: 2048, maxDepth: 12))
    var offset = 0
    do throws(XMLStreamError) {
        while offset < count {
            let end = min(offset + step, count)
            for event in try parser.feed(UnsafeRawBufferPointer(start: input + offset, count: end - offset)) { check(event) }
            offset = end
        }
    } catch {
        _ = error.description
    }
    return 0
}

private func check(_ event: XMLStreamEvent) {
    switch event {
    case .streamStart(let root):
        _ = root.serialized()
    case .stanza(let stanza):
        let xml = stanza.serialized()
        let again: XMLElement
        do {
            again = try XMLElement(parsing: xml)
        } catch {
            fatalError("serialized stanza does not parse (\(error)): \(xml)")
        }
        if again != stanza { fatalError("serialized stanza parses to something else: \(xml)") }
    case .streamEnd:
        break
    }
}
