import CLibXML2
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

struct OpenElement {
    var element: XMLElement
    /// Where this element's children start in the node stack.
    var firstChild: Int
}

/// A stack of nodes in manually managed memory, so that a run of them can be moved into a new
/// array without the retain and release per node that copying out of an Array would cost.
struct NodeStack {
    private var base: UnsafeMutablePointer<XMLNode>
    private var capacity = 64
    private(set) var count = 0

    init() {
        base = .allocate(capacity: capacity)
    }

    mutating func push(_ node: consuming XMLNode) {
        if count == capacity {
            let larger = UnsafeMutablePointer<XMLNode>.allocate(capacity: capacity * 2)
            larger.moveInitialize(from: base, count: count)
            base.deallocate()
            base = larger
            capacity *= 2
        }
        (base + count).initialize(to: node)
        count += 1
    }

    /// Moves the nodes from `start` to the top into an array of exactly their number.
    mutating func popArray(from start: Int) -> [XMLNode] {
        let moving = count - start
        if moving == 0 { return [] }
        var array: [XMLNode] = []
        array.reserveCapacity(moving)
        for index in start..<count {
            array.append((base + index).move())
        }
        count = start
        return array
    }

    /// Not a deinit: the stack lives inside a struct that libxml2 reaches by pointer, and its
    /// owner, XMLStreamParser, decides when it dies.
    mutating func release() {
        base.deinitialize(count: count)
        base.deallocate()
        count = 0
        capacity = 0
    }
}

/// Strings for names and namespace URIs, keyed by libxml2's interned pointers.
///
/// libxml2 puts every element name, attribute name and namespace URI in its dictionary, so the
/// same name arrives as the same pointer for the parser's whole life; a pointer compare then
/// replaces decoding and validating the bytes, and long URIs are not allocated again per stanza.
/// Each attribute name also remembers its last value: `from`, `to` and `type` repeat from stanza
/// to stanza, and comparing bytes is cheaper than allocating and validating a new String.
