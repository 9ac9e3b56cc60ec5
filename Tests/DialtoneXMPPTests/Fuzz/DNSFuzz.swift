// libFuzzer entry point, built only by Scripts/fuzz (the test target excludes this folder).
// The input is a nameserver's answer: it goes through the SRV, A and AAAA parsers (with the
// answer's own id as the expected one, so that parsing gets past the check a real client
// makes) and the SRV ordering, which must refuse garbage without crashing. The same answer
// under any other id must be refused, and ordering must neither lose nor invent a record.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let message = Array(UnsafeBufferPointer(start: data, count: size))
    let id: UInt16 = size >= 2 ? UInt16(message[0]) << 8 | UInt16(message[1]) : 0
    if let services = try? DNSResolver.parseSRV(message, expectedID: id) {
        let ordered = DNSResolver.order(services)
        if ordered.count != services.count || Set(ordered.map(\.target)) != Set(services.map(\.target)) {
            fatalError("SRV ordering changed the records: \(services) -> \(ordered)")
        }
    }
    for type: UInt16 in [1, 28] {
        if let addresses = try? DNSResolver.parseAddresses(message, expectedID: id, type: type) {
            for address in addresses where !DNSResolver.isAddressLiteral(address) {
                fatalError("parsed address \(address) is not an address")
            }
        }
    }
    if (try? DNSResolver.parseSRV(message, expectedID: id &+ 1)) != nil {
        fatalError("an answer to another query was accepted")
    }
    // A name from anywhere (a JID's domain) must make a query without trapping.
    _ = DNSResolver.query(id: id, name: String(decoding: message, as: UTF8.self), type: 33)
    return 0
}
