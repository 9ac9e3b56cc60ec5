/// The namespaces of Jingle calls, in one place so a typo cannot hide in a string.
public enum JingleNamespace {
    public static let jingle = "urn:xmpp:jingle:1"
    public static let errors = "urn:xmpp:jingle:errors:1"
    public static let messageInitiation = "urn:xmpp:jingle-message:0"
    public static let rtp = "urn:xmpp:jingle:apps:rtp:1"
    public static let rtpAudio = "urn:xmpp:jingle:apps:rtp:audio"
    public static let rtpInfo = "urn:xmpp:jingle:apps:rtp:info:1"
    public static let iceUDP = "urn:xmpp:jingle:transports:ice-udp:1"
    public static let dtls = "urn:xmpp:jingle:apps:dtls:0"
    /// Conversations' draft for OMEMO-verified calls: a proceed names the callee's OMEMO
    /// device, and each side's DTLS fingerprint travels encrypted for the other's device.
    /// (The misspelt "dlts" is the namespace as Conversations and Dino send it.)
    public static let omemoVerification = "http://gultsch.de/xmpp/drafts/omemo/dlts-srtp-verification"
    /// The OMEMO version the draft encrypts with.
    public static let axolotl = "eu.siacs.conversations.axolotl"
    public static let grouping = "urn:xmpp:jingle:apps:grouping:0"
    public static let ssrc = "urn:xmpp:jingle:apps:rtp:ssma:0"
    public static let rtcpFeedback = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
    public static let headerExtensions = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
    /// Advertised by peers that cannot take trickled candidates (JMP's Asterisk bridge).
    public static let noTrickle = "urn:ietf:rfc:3264"
    public static let hints = "urn:xmpp:hints"
    public static let receipts = "urn:xmpp:receipts"

    /// What a calling client announces in service discovery (Conversations checks these
    /// before it offers a call).
    public static let features = [jingle, messageInitiation, rtp, rtpAudio, iceUDP, dtls]
}
