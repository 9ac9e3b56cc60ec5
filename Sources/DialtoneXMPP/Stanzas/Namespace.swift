/// The XML namespaces Dialtone speaks, in one place so a typo cannot hide in a string.
public enum Namespace {
    /// The stream feature that says the server keeps roster versions (RFC 6121 2.6).
    public static let rosterVersioning = "urn:xmpp:features:rosterver"
    public static let client = "jabber:client"
    public static let stream = "http://etherx.jabber.org/streams"
    public static let streamErrors = "urn:ietf:params:xml:ns:xmpp-streams"
    public static let stanzaErrors = "urn:ietf:params:xml:ns:xmpp-stanzas"
    public static let tls = "urn:ietf:params:xml:ns:xmpp-tls"
    public static let sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
    public static let saslChannelBinding = "urn:xmpp:sasl-cb:0"
    public static let bind = "urn:ietf:params:xml:ns:xmpp-bind"
    public static let session = "urn:ietf:params:xml:ns:xmpp-session"
    public static let roster = "jabber:iq:roster"
    /// The stream feature that says the server takes subscription pre-approvals (RFC 6121 §3.4).
    public static let preApproval = "urn:xmpp:features:pre-approval"
    /// User nicknames (XEP-0172).
    public static let nick = "http://jabber.org/protocol/nick"
    public static let streamManagement = "urn:xmpp:sm:3"
    public static let ping = "urn:xmpp:ping"
    public static let discoInfo = "http://jabber.org/protocol/disco#info"
    public static let discoItems = "http://jabber.org/protocol/disco#items"
    public static let caps = "http://jabber.org/protocol/caps"
    public static let carbons = "urn:xmpp:carbons:2"
    public static let forward = "urn:xmpp:forward:0"
    public static let mam = "urn:xmpp:mam:2"
    /// An archive that takes ids as bounds and flips a page (XEP-0313 "extended").
    public static let mamExtended = "urn:xmpp:mam:2#extended"
    public static let rsm = "http://jabber.org/protocol/rsm"
    public static let dataForms = "jabber:x:data"
    public static let delay = "urn:xmpp:delay"
    public static let stanzaID = "urn:xmpp:sid:0"
    public static let receipts = "urn:xmpp:receipts"
    public static let hints = "urn:xmpp:hints"
    /// Explicit Message Encryption (XEP-0380): which scheme a message is encrypted with.
    public static let eme = "urn:xmpp:eme:0"
    /// Stanza Content Encryption (XEP-0420): the envelope of OMEMO 2 plaintexts.
    public static let sce = "urn:xmpp:sce:1"
    public static let oob = "jabber:x:oob"
    public static let version = "jabber:iq:version"
    /// Blocking (XEP-0191) and spam reports with it (XEP-0377).
    public static let blocking = "urn:xmpp:blocking"
    public static let reporting = "urn:xmpp:reporting:1"
    /// Entity time (XEP-0202).
    public static let time = "urn:xmpp:time"
    public static let gateway = "jabber:iq:gateway"
    public static let httpUpload = "urn:xmpp:http:upload:0"
    public static let addresses = "http://jabber.org/protocol/address"
    public static let fallback = "urn:xmpp:fallback:0"
    public static let sims = "urn:xmpp:sims:1"
    public static let references = "urn:xmpp:reference:0"
    public static let jingleMessage = "urn:xmpp:jingle-message:0"
    public static let chatStates = "http://jabber.org/protocol/chatstates"
    public static let markers = "urn:xmpp:chat-markers:0"
    public static let correction = "urn:xmpp:message-correct:0"
    /// Message retraction (XEP-0424): version 1, and version 0's form inside a fastening.
    public static let retraction = "urn:xmpp:message-retract:1"
    public static let retraction0 = "urn:xmpp:message-retract:0"
    public static let fastening = "urn:xmpp:fasten:0"
    /// Message moderation in rooms (XEP-0425): version 1, and version 0 (inside a fastening),
    /// which Prosody 0.12's mod_muc_moderation and older clients speak.
    public static let moderation = "urn:xmpp:message-moderate:1"
    public static let moderation0 = "urn:xmpp:message-moderate:0"
    /// Message replies (XEP-0461) and reactions (XEP-0444).
    public static let reply = "urn:xmpp:reply:0"
    public static let reactions = "urn:xmpp:reactions:0"
    /// Read state shared by the account's devices (XEP-0490) in PEP (XEP-0163).
    public static let displayedSync = "urn:xmpp:mds:displayed:0"
    public static let pubsub = "http://jabber.org/protocol/pubsub"
    /// Group chats (XEP-0045): joining, and the room's reports about occupants.
    public static let muc = "http://jabber.org/protocol/muc"
    public static let mucUser = "http://jabber.org/protocol/muc#user"
    /// A moderator's or admin's changes to roles and affiliations (XEP-0045 §8, §9).
    public static let mucAdmin = "http://jabber.org/protocol/muc#admin"
    public static let mucOwner = "http://jabber.org/protocol/muc#owner"
    public static let pubsubEvent = "http://jabber.org/protocol/pubsub#event"
    /// Bookmarked rooms (XEP-0402), one PEP item a room; `bookmarksNotify` asks for changes.
    public static let bookmarks = "urn:xmpp:bookmarks:1"
    /// Direct invitations to a room (XEP-0249).
    public static let conferenceInvite = "jabber:x:conference"
    public static let externalServices = "urn:xmpp:extdisco:2"
    public static let commands = "http://jabber.org/protocol/commands"
}
