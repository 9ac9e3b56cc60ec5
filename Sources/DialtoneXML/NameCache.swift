import CLibXML2
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct NameCache {
    private struct Entry {
        var local: UnsafeRawPointer?
        var prefix: UnsafeRawPointer?
        var string = ""
        var lastValue = ""
    }

    private static let slots = 256
    /// Values longer than this are not remembered, so the memo holds little memory.
    private static let longestRememberedValue = 128
    /// Manually managed like NodeStack, to skip the uniqueness check an Array makes on every write.
    private var table: UnsafeMutablePointer<Entry>

    init() {
        table = .allocate(capacity: Self.slots)
        table.initialize(repeating: Entry(), count: Self.slots)
    }

    mutating func release() {
        table.deinitialize(count: Self.slots)
        table.deallocate()
    }

    /// The entry for this name, filled on a miss, or nil when the pointers are not the
    /// dictionary's and so cannot be trusted to keep meaning the same bytes.
    private mutating func entry(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?, dict: xmlDictPtr?) -> UnsafeMutablePointer<Entry>? {
        let localKey = UnsafeRawPointer(local)
        let prefixKey = prefix.map(UnsafeRawPointer.init)
        let mixed = UInt(bitPattern: localKey) ^ (UInt(bitPattern: prefixKey) &<< 7)
        let entry = table + (Int(truncatingIfNeeded: (mixed &* 0x9E37_79B9_7F4A_7C15) &>> 56) & (Self.slots - 1))
        if entry.pointee.local == localKey && entry.pointee.prefix == prefixKey { return entry }
        guard let dict, xmlDictOwns(dict, local) == 1, prefix.map({ xmlDictOwns(dict, $0) == 1 }) ?? true else { return nil }
        entry.pointee = Entry(local: localKey, prefix: prefixKey, string: Self.makeName(local, prefix: prefix))
        return entry
    }

    private static func makeName(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?) -> String {
        guard let prefix else {
            // Of what comes here only a namespace URI can hold an `&`, and libxml2 leaves each as
            // `&#38;` there as it does in attribute values. (Found by Scripts/fuzz xml.)
            if strchr(UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self), Int32(UInt8(ascii: "&"))) != nil {
                return decodingAmpersands(UnsafeBufferPointer(start: local, count: strlen(UnsafeRawPointer(local).assumingMemoryBound(to: CChar.self))))
            }
            return String(cString: local)
        }
        return String(cString: prefix) + ":" + String(cString: local)
    }

    mutating func string(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?, dict: xmlDictPtr?) -> String {
        entry(local, prefix: prefix, dict: dict)?.pointee.string ?? Self.makeName(local, prefix: prefix)
    }

    /// An attribute whose value has no references left in it (see decodingAmpersands).
    mutating func attribute(_ local: UnsafePointer<xmlChar>, prefix: UnsafePointer<xmlChar>?, dict: xmlDictPtr?,
                            value: UnsafeBufferPointer<UInt8>) -> XMLAttribute {
        guard let entry = entry(local, prefix: prefix, dict: dict) else {
            return XMLAttribute(Self.makeName(local, prefix: prefix), String(decoding: value, as: UTF8.self))
        }
        let remembered = entry.pointee.lastValue.withUTF8 { last in
            last.count == value.count && (value.isEmpty || memcmp(last.baseAddress!, value.baseAddress!, value.count) == 0)
        }
        if !remembered {
            let string = String(decoding: value, as: UTF8.self)
            if value.count > Self.longestRememberedValue { return XMLAttribute(entry.pointee.string, string) }
            entry.pointee.lastValue = string
        }
        return XMLAttribute(entry.pointee.string, entry.pointee.lastValue)
    }
}
