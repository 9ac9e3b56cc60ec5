/// Uppercase hex pairs joined by colons ("AB:CD:…"), the form XEP-0320 and SDP use.
public func fingerprintString(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789ABCDEF".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count * 3)
    for (index, byte) in bytes.enumerated() {
        if index > 0 { out.append(UInt8(ascii: ":")) }
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}

/// Accepts "AB:CD:…" or "abcd…" in any case, with surrounding whitespace. With colons,
/// every group must be exactly two digits so that a typo cannot silently shift the bytes.
public func parseFingerprint(_ text: String) -> [UInt8]? {
    let all = Array(text.utf8)
    guard let first = all.firstIndex(where: { !isSpace($0) }),
          let last = all.lastIndex(where: { !isSpace($0) }) else { return nil }
    let chars = Array(all[first...last])
    let hasColons = chars.contains(UInt8(ascii: ":"))
    if hasColons {
        let groups = chars.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var bytes: [UInt8] = []
        bytes.reserveCapacity(groups.count)
        for group in groups {
            guard group.count == 2, let high = hexValue(group[group.startIndex]),
                  let low = hexValue(group[group.startIndex + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }
    guard chars.count % 2 == 0 else { return nil }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(chars.count / 2)
    var index = 0
    while index < chars.count {
        guard let high = hexValue(chars[index]), let low = hexValue(chars[index + 1]) else { return nil }
        bytes.append(high << 4 | low)
        index += 2
    }
    return bytes
}

private func isSpace(_ c: UInt8) -> Bool {
    c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}
