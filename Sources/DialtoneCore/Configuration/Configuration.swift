import DialtoneICE
import Foundation
import TOMLKit

/// The user's config file: one or more accounts (`[[account]]` tables).
public struct Configuration: Sendable, Decodable {
    public var accounts: [AccountConfiguration]

    enum CodingKeys: String, CodingKey { case accounts = "account" }

    public init(accounts: [AccountConfiguration]) {
        self.accounts = accounts
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accounts = try container.decodeIfPresent([AccountConfiguration].self, forKey: .accounts) ?? []
    }

    /// `$XDG_CONFIG_HOME/dialtone/config.toml`.
    public static var defaultPath: String { Paths.configHome + "/dialtone/config.toml" }

    public static func load(from path: String) throws(ConfigurationError) -> Configuration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw FileManager.default.fileExists(atPath: path) ? .unreadable(path) : .missing(path)
        }
        var configuration = try parse(text, path: path)
        configuration.warnings = exposureWarnings(path: path, accounts: configuration.accounts)
        return configuration
    }

    /// What the user should fix but that need not stop the program; front ends show each once.
    public private(set) var warnings: [String] = []

    /// A secret written in the file itself is only as private as the file.
    static func exposureWarnings(path: String, accounts: [AccountConfiguration]) -> [String] {
        guard accounts.contains(where: { $0.turnPassword != nil }) else { return [] }
        var status = stat()
        guard stat(path, &status) == 0, status.st_mode & 0o077 != 0 else { return [] }
        return ["\(path) holds a turn_password and other users can read it: chmod 600 \(path)"]
    }

    public static func parse(_ text: String, path: String = "config") throws(ConfigurationError) -> Configuration {
        let configuration: Configuration
        do {
            configuration = try TOMLDecoder().decode(Configuration.self, from: text)
        } catch let error as TOMLParseError {
            throw .syntax(path: path, line: Int(error.source.begin.line), detail: error.description)
        } catch let error as DecodingError {
            throw .invalid(path: path, detail: Self.describe(error))
        } catch {
            throw .invalid(path: path, detail: String(describing: error))
        }
        for account in configuration.accounts { try account.validate(path: path) }
        return configuration
    }

    /// The account named by `--account`, or the only/first one.
    public func account(_ jid: String?) throws(ConfigurationError) -> AccountConfiguration {
        if let jid {
            guard let account = accounts.first(where: { $0.jid.lowercased() == jid.lowercased() }) else {
                throw .noSuchAccount(jid, known: accounts.map(\.jid))
            }
            return account
        }
        guard let first = accounts.first else { throw .noAccounts }
        return first
    }

    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "\(path(context)): missing key \"\(key.stringValue)\""
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "\(path(context)): \(context.debugDescription)"
        @unknown default: return String(describing: error)
        }
    }
}

public struct AccountConfiguration: Sendable, Decodable, Equatable {
    public var jid: String
    public var passwordCommand: String?
    public var passwordFile: String?
    public var server: String?
    public var port: Int?
    /// "starttls" (default), "direct" or "none" (loopback only).
    public var tls: String?
    public var caFile: String?
    /// A pinned SHA-256 fingerprint of the server certificate ("AB:CD:…").
    public var fingerprint: String?
    public var gateway: String?
    public var country: String?
    public var resource: String?
    /// A nameserver for SRV look-ups ("127.0.0.1:5353"), instead of resolv.conf's.
    public var nameserver: String?
    /// Calls: STUN and TURN servers as "IP:port" (ICE never resolves names), TURN's
    /// long-term credentials, the audio devices, and host candidates on loopback only (tests).
    public var stun: String?
    public var turn: String?
    public var turnUsername: String?
    public var turnPassword: String?
    /// "udp" (default) or "tcp": how the TURN server is reached (TCP where UDP is blocked).
    public var turnTransport: String?
    public var capture: String?
    public var playback: String?
    public var iceLoopbackOnly: Bool?
    /// An asoundrc file to look `capture` and `playback` up in, instead of ALSA's own configuration.
    public var alsaConfig: String?
    /// Seconds without answers to ICE consent checks before a call counts as cut off (RFC 7675: 30).
    public var iceConsentTimeout: Seconds?
    /// Offer only the relayed candidate: hides our addresses from the peer (and proves TURN in tests).
    public var iceRelayOnly: Bool?
    /// Host candidates on exactly these addresses (["192.0.2.5"]), instead of every interface's.
    public var iceAddresses: [String]?
    /// Ask our server for STUN and TURN (XEP-0215) where `stun`/`turn` are not set (default true).
    public var externalServices: Bool?
    /// Desktop notifications in the terminal interface: "none" (default), "osc777", "osc9", "notify-send".
    public var notify: String?
    /// An ALSA PCM to play a ring tone on for incoming calls in the terminal interface.
    public var ringDevice: String?
    /// Who may ring: "contacts" (default: roster, address book, numbers through the gateway) or "anyone".
    public var callsFrom: String?
    /// Whether to tell people when you type (XEP-0085); default true.
    public var chatStates: Bool?
    /// Whether chats with contacts who have OMEMO devices are encrypted unless turned off for
    /// one (`/omemo off`); default true. Phone numbers through the gateway never are.
    public var omemo: Bool?
    /// Whether to tell those who ask which software and version this is (XEP-0092); default true.
    public var softwareVersion: Bool?
    /// Voice processing on the microphone: each on (true) or off; see VoiceProcessingSettings.
    public var echoCancellation: Bool?
    public var noiseSuppression: Bool?
    public var autoGain: Bool?
    /// Audio threads under SCHED_FIFO where permitted; default true.
    public var realtimeAudio: Bool?

    enum CodingKeys: String, CodingKey {
        case jid, server, port, tls, gateway, country, resource, nameserver, fingerprint, stun, turn, capture, playback, notify, omemo
        case turnUsername = "turn_username"
        case turnPassword = "turn_password"
        case turnTransport = "turn_transport"
        case iceLoopbackOnly = "ice_loopback_only"
        case alsaConfig = "alsa_config"
        case iceConsentTimeout = "ice_consent_timeout"
        case iceRelayOnly = "ice_relay_only"
        case iceAddresses = "ice_addresses"
        case ringDevice = "ring_device"
        case callsFrom = "calls_from"
        case chatStates = "chat_states"
        case softwareVersion = "software_version"
        case echoCancellation = "echo_cancellation"
        case noiseSuppression = "noise_suppression"
        case autoGain = "auto_gain"
        case realtimeAudio = "realtime_audio"
        case externalServices = "external_services"
        case passwordCommand = "password_command"
        case passwordFile = "password_file"
        case caFile = "ca_file"
    }

    public init(jid: String, passwordCommand: String? = nil, passwordFile: String? = nil, server: String? = nil,
                port: Int? = nil, tls: String? = nil, caFile: String? = nil) {
        self.jid = jid
        self.passwordCommand = passwordCommand
        self.passwordFile = passwordFile
        self.server = server
        self.port = port
        self.tls = tls
        self.caFile = caFile
    }

    func validate(path: String) throws(ConfigurationError) {
        if passwordCommand == nil && passwordFile == nil {
            throw .invalid(path: path, detail: "account \(jid) needs password_command or password_file")
        }
        if let tls, !["starttls", "direct", "none"].contains(tls) {
            throw .invalid(path: path, detail: "account \(jid): tls must be \"starttls\", \"direct\" or \"none\", not \"\(tls)\"")
        }
        if let port, !(1...65535).contains(port) {
            throw .invalid(path: path, detail: "account \(jid): port \(port) is out of range")
        }
        for (key, value) in [("stun", stun), ("turn", turn)] {
            if let value, TransportAddress(ipAndPort: value) == nil {
                throw .invalid(path: path, detail: "account \(jid): \(key) must be an IP address and port (\"192.0.2.1:3478\"), not \"\(value)\"")
            }
        }
        for address in iceAddresses ?? [] where IPAddress(address) == nil {
            throw .invalid(path: path, detail: "account \(jid): ice_addresses takes IP addresses, not \"\(address)\"")
        }
        if let callsFrom, !["contacts", "anyone"].contains(callsFrom) {
            throw .invalid(path: path, detail: "account \(jid): calls_from must be \"contacts\" or \"anyone\", not \"\(callsFrom)\"")
        }
        if let notify, !["none", "osc777", "osc9", "notify-send"].contains(notify) {
            throw .invalid(path: path, detail: "account \(jid): notify must be \"none\", \"osc777\", \"osc9\" or \"notify-send\", not \"\(notify)\"")
        }
        if let turnTransport, !["udp", "tcp", "tls"].contains(turnTransport) {
            throw .invalid(path: path, detail: "account \(jid): turn_transport must be \"udp\", \"tcp\" or \"tls\", not \"\(turnTransport)\"")
        }
        if turn != nil && (turnUsername == nil || turnPassword == nil) {
            throw .invalid(path: path, detail: "account \(jid): turn needs turn_username and turn_password")
        }
    }
}

public enum ConfigurationError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(String)
    case unreadable(String)
    case syntax(path: String, line: Int, detail: String)
    case invalid(path: String, detail: String)
    case noAccounts
    case noSuchAccount(String, known: [String])
    case password(String)
    case invalidAddress(String)

    public var description: String {
        switch self {
        case .missing(let path): "No configuration at \(path); create it with an [[account]] table (see dialtone(1))."
        case .unreadable(let path): "Cannot read the configuration \(path)."
        case .syntax(let path, let line, let detail): "\(path):\(line): \(detail)"
        case .invalid(let path, let detail): "\(path): \(detail)."
        case .noAccounts: "The configuration has no [[account]]."
        case .noSuchAccount(let jid, let known): "No account \(jid) in the configuration (have: \(known.joined(separator: ", ")))."
        case .password(let why): why
        case .invalidAddress(let why): why
        }
    }
}

/// The XDG base directories Dialtone uses.
public enum Paths {
    static func environment(_ name: String) -> String? {
        ProcessInfo.processInfo.environment[name].flatMap { $0.isEmpty ? nil : $0 }
    }

    static var home: String { environment("HOME") ?? NSHomeDirectory() }
    public static var configHome: String { environment("XDG_CONFIG_HOME") ?? home + "/.config" }
    public static var dataHome: String { environment("XDG_DATA_HOME") ?? home + "/.local/share" }
    public static var stateHome: String { environment("XDG_STATE_HOME") ?? home + "/.local/state" }

    /// Each account keeps its own database: `$XDG_DATA_HOME/dialtone/accounts/JID/dialtone.sqlite`.
    public static func database(for jid: String) -> String {
        dataHome + "/dialtone/accounts/\(jid.lowercased())/dialtone.sqlite"
    }

    public static var logFile: String { stateHome + "/dialtone/dialtone.log" }

    /// Where fetched attachments go: `$XDG_DATA_HOME/dialtone/downloads`.
    public static var downloads: String { dataHome + "/dialtone/downloads" }
}

/// A number of seconds in the config file, written as an integer or a decimal (`30`, `2.5`).
public struct Seconds: Sendable, Decodable, Equatable {
    public var value: Double

    public init(_ value: Double) { self.value = value }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let integer = try? container.decode(Int.self) { value = Double(integer) } else { value = try container.decode(Double.self) }
    }
}
