import DialtoneICE
import DialtoneJingle
import DialtoneTLS
import DialtoneXMPP
import Foundation

// How an account's entry in config.toml becomes the settings of the layers below.
extension AccountConfiguration {
    /// The phone-number settings: `gateway` and `country` (or the locale's).
    public func recipientResolver() throws -> RecipientResolver {
        var gatewayJID: JID?
        if let gateway {
            do { gatewayJID = try JID(gateway) } catch {
                throw ConfigurationError.invalid(path: "config", detail: "account \(jid): gateway \"\(gateway)\" is not an address")
            }
        }
        return RecipientResolver(gateway: gatewayJID, country: country?.uppercased() ?? RecipientResolver.defaultCountry())
    }

    /// The call settings: ICE servers, devices, loopback-only ICE for tests.
    public func callConfiguration() -> CallSettings {
        var calls = CallSettings()
        calls.media.ice.loopbackOnly = iceLoopbackOnly ?? false
        if calls.media.ice.loopbackOnly { calls.media.ice.useIPv6 = false }
        calls.media.ice.stunServer = stun.flatMap(TransportAddress.init(ipAndPort:))
        if let turn = turn.flatMap(TransportAddress.init(ipAndPort:)), let turnUsername, let turnPassword {
            let transport = turnTransport.flatMap(TURNTransport.init(rawValue:)) ?? .udp
            calls.media.ice.turnServer = TURNServerConfiguration(address: turn, username: turnUsername, password: turnPassword,
                                                                 transport: transport, caFile: caFile)
            // A server reached over UDP is tried over TCP on the same port where UDP is blocked
            // (coturn and most servers listen on both).
            if transport == .udp {
                calls.media.ice.turnFallbacks = [TURNServerConfiguration(address: turn, username: turnUsername, password: turnPassword,
                                                                         transport: .tcp, caFile: caFile)]
            }
        }
        if let capture { calls.media.captureDevice = capture }
        if let playback { calls.media.playbackDevice = playback }
        if let timeout = iceConsentTimeout?.value, timeout > 0 {
            calls.media.ice.consentTimeout = .milliseconds(Int(timeout * 1000))
            calls.media.ice.consentInterval = min(calls.media.ice.consentInterval, .milliseconds(Int(timeout * 250)))
        }
        calls.media.ice.relayOnly = iceRelayOnly ?? false
        if let iceAddresses { calls.media.ice.hostAddresses = iceAddresses.compactMap(IPAddress.init) }
        calls.ringDevice = ringDevice
        calls.callsFromAnyone = callsFrom == "anyone"
        if let echoCancellation { calls.media.voice.echoCancellation = echoCancellation }
        if let noiseSuppression { calls.media.voice.noiseSuppression = noiseSuppression }
        if let autoGain { calls.media.voice.automaticGain = autoGain }
        calls.media.realtimeAudio = realtimeAudio ?? true
        calls.useExternalServices = externalServices ?? true
        if let alsaConfig { calls.media.alsaConfiguration = try? String(contentsOfFile: alsaConfig, encoding: .utf8) }
        return calls
    }

    /// The connection settings, with the password read from its source.
    public func clientConfiguration() throws -> XMPPClientConfiguration {
        let address: JID
        do { address = try JID(jid) } catch { throw ConfigurationError.invalidAddress("The account address \(jid) is invalid: \(error)") }
        guard address.local != nil else { throw ConfigurationError.invalidAddress("The account address \(jid) has no user name.") }
        var configuration = XMPPClientConfiguration(
            jid: address, password: try PasswordSource.password(for: self), server: server, port: port,
            tls: tls.flatMap(XMPPClientConfiguration.TLSMode.init(rawValue:)) ?? .starttls, caFile: caFile,
            pinnedCertificateSHA256: nil, resource: resource)
        if softwareVersion ?? true { configuration.softwareVersion = DialtoneVersion.string }
        if let fingerprint {
            guard let bytes = parseFingerprint(fingerprint), bytes.count == 32 else {
                throw ConfigurationError.invalid(path: "config", detail: "account \(jid): fingerprint must be a SHA-256 in hex")
            }
            configuration.pinnedCertificateSHA256 = bytes
        }
        if let nameserver {
            let parts = nameserver.split(separator: ":")
            configuration.nameserver = .init(host: String(parts[0]), port: parts.count > 1 ? UInt16(parts[1]) ?? 53 : 53)
        }
        return configuration
    }
}
