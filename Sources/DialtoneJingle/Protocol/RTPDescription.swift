import DialtoneMedia
import DialtoneXML

/// One codec of an RTP description (XEP-0167 `<payload-type/>`).
public struct PayloadType: Sendable, Equatable {
    public var id: UInt8
    public var name: String
    public var clockRate: Int
    public var channels: Int
    /// fmtp parameters in the order given (`useinbandfec=1`, `minptime=10`, …).
    public var parameters: [(name: String, value: String)]
    /// XEP-0167's ptime and maxptime attributes: the packet duration the peer asks for.
    public var ptime: Int?
    public var maxptime: Int?

    public init(id: UInt8, name: String, clockRate: Int, channels: Int = 1, parameters: [(name: String, value: String)] = [],
                ptime: Int? = nil, maxptime: Int? = nil) {
        self.ptime = ptime
        self.maxptime = maxptime
        self.id = id
        self.name = name
        self.clockRate = clockRate
        self.channels = channels
        self.parameters = parameters
    }

    public static func == (lhs: PayloadType, rhs: PayloadType) -> Bool {
        lhs.ptime == rhs.ptime && lhs.maxptime == rhs.maxptime && lhs.id == rhs.id && lhs.name == rhs.name && lhs.clockRate == rhs.clockRate && lhs.channels == rhs.channels
            && lhs.parameters.map(\.name) == rhs.parameters.map(\.name) && lhs.parameters.map(\.value) == rhs.parameters.map(\.value)
    }

    public func parameter(_ name: String) -> String? { parameters.first { $0.name == name }?.value }

    public var isOpus: Bool { name.lowercased() == "opus" && clockRate == 48_000 }
    /// G.711 µ-law or A-law at 8 kHz.
    public var isG711: Bool { ["pcmu", "pcma"].contains(name.lowercased()) && clockRate == 8_000 }
    public var isTelephoneEvent: Bool { name.lowercased() == "telephone-event" }

    /// What the peer asked of our Opus stream (RFC 7587 fmtp and XEP-0167), applied to our
    /// encoder settings: FEC, the bandwidth worth encoding, and a shorter packet when the
    /// peer's maxptime is below ours. (Our frames keep one duration both ways, as the playback
    /// path decodes one frame per device period; 20 ms is what every peer takes.)
    public func applied(to settings: OpusEncoderSettings) -> OpusEncoderSettings {
        var settings = settings
        if let longest = maxptime ?? parameter("maxptime").flatMap(Int.init), longest < settings.frameMilliseconds,
           let shorter = [10, 20, 40].last(where: { $0 <= longest }) {
            settings.frameMilliseconds = shorter
        }
        if parameter("useinbandfec") == "0" { settings.inbandFEC = false }
        if let rate = parameter("maxplaybackrate").flatMap(Int32.init), rate > 0 { settings.maxPlaybackRate = rate }
        return settings
    }

    /// What we offer: Opus as WebRTC peers expect it (2 channels signalled, mono sent), with FEC.
    public static let opus = PayloadType(id: 111, name: "opus", clockRate: 48_000, channels: 2,
                                         parameters: [("minptime", "10"), ("useinbandfec", "1")])
    /// G.711, for gateways that do not take Opus.
    public static let pcmu = PayloadType(id: 0, name: "PCMU", clockRate: 8_000)
    public static let pcma = PayloadType(id: 8, name: "PCMA", clockRate: 8_000)
    public static let telephoneEvent = PayloadType(id: 101, name: "telephone-event", clockRate: 8_000,
                                                   parameters: [("events", "0-15")])

    init?(_ element: XMLElement) {
        guard let idText = element[attribute: "id"], let id = UInt8(idText), id < 128 else { return nil }
        self.id = id
        name = element[attribute: "name"] ?? ""
        clockRate = element[attribute: "clockrate"].flatMap(Int.init) ?? 8_000
        channels = element[attribute: "channels"].flatMap(Int.init) ?? 1
        ptime = element[attribute: "ptime"].flatMap(Int.init)
        maxptime = element[attribute: "maxptime"].flatMap(Int.init)
        parameters = element.children("parameter", namespace: JingleNamespace.rtp).compactMap { parameter in
            guard let name = parameter[attribute: "name"] else { return nil }
            return (name, parameter[attribute: "value"] ?? "")
        }
    }

    var element: XMLElement {
        var element = XMLElement("payload-type", namespace: JingleNamespace.rtp, attributes: [
            "id": String(id), "name": name, "clockrate": String(clockRate), "channels": channels == 1 ? nil : String(channels),
            "ptime": ptime.map(String.init), "maxptime": maxptime.map(String.init),
        ])
        for (name, value) in parameters {
            element.append(XMLElement("parameter", namespace: JingleNamespace.rtp, attributes: [XMLAttribute("name", name), XMLAttribute("value", value)]))
        }
        return element
    }
}

/// XEP-0167 `<description media="audio"/>`: the codecs, rtcp-mux, and the peer's SSRCs
/// (XEP-0339, accepted and otherwise unused: one audio source a side).
public struct RTPDescription: Sendable, Equatable {
    public var media: String
    public var payloadTypes: [PayloadType]
    public var rtcpMux: Bool
    public var ssrcs: [UInt32]

    public init(media: String = "audio", payloadTypes: [PayloadType], rtcpMux: Bool = true, ssrcs: [UInt32] = []) {
        self.media = media
        self.payloadTypes = payloadTypes
        self.rtcpMux = rtcpMux
        self.ssrcs = ssrcs
    }

    init?(_ element: XMLElement) {
        guard element.name == "description", element.namespace == JingleNamespace.rtp else { return nil }
        media = element[attribute: "media"] ?? ""
        payloadTypes = element.children("payload-type", namespace: JingleNamespace.rtp).compactMap(PayloadType.init)
        rtcpMux = element.child("rtcp-mux", namespace: JingleNamespace.rtp) != nil
        ssrcs = element.children("source", namespace: JingleNamespace.ssrc).compactMap { $0[attribute: "ssrc"].flatMap(UInt32.init) }
    }

    var element: XMLElement {
        var element = XMLElement("description", namespace: JingleNamespace.rtp, attributes: [XMLAttribute("media", media)])
        for payload in payloadTypes { element.append(payload.element) }
        for ssrc in ssrcs {
            element.append(XMLElement("source", namespace: JingleNamespace.ssrc, attributes: [XMLAttribute("ssrc", String(ssrc))]))
        }
        if rtcpMux { element.append(XMLElement("rtcp-mux", namespace: JingleNamespace.rtp)) }
        return element
    }

    /// The first Opus payload type of the peer's list (its preference order).
    public var opus: PayloadType? { payloadTypes.first { $0.isOpus } }
    /// The audio codec to use: Opus when offered, else the first G.711 in the peer's order.
    public var preferredAudio: PayloadType? { opus ?? payloadTypes.first { $0.isG711 } }
    /// telephone-event at 8 kHz if offered (what phone gateways expect), else at any rate.
    public var telephoneEvent: PayloadType? {
        payloadTypes.first { $0.isTelephoneEvent && $0.clockRate == 8_000 } ?? payloadTypes.first { $0.isTelephoneEvent }
    }
}
