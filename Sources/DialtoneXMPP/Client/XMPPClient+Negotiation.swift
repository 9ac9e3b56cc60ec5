import DialtoneTLS
import DialtoneXML
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import NIOCore

/// Stream negotiation: endpoint choice, TLS, SASL, then resumption or bind (RFC 6120 4–7, XEP-0198).
extension XMPPClient {
    struct Endpoint: Equatable {
        var host: String
        var port: Int
        var directTLS: Bool
    }

    func connectAndNegotiate() async throws {
        let endpoints = try await resolveEndpoints()
        var lastError: (any Error)?
        for endpoint in endpoints {
            do {
                try await open(endpoint)
                lastError = nil
                break
            } catch let error as XMPPConnectionError where error.isPermanent {
                throw error
            } catch let error as TLSError {
                throw XMPPConnectionError.tls(error)
            } catch {
                lastError = error
                transport?.close()
                transport = nil
            }
        }
        if let lastError { throw lastError }
        try await negotiateSession()
    }

    private func resolveEndpoints() async throws -> [Endpoint] {
        let domain = configuration.jid.domain
        let direct = configuration.tls == .direct
        if let server = configuration.server {
            return [Endpoint(host: server, port: configuration.port ?? (direct ? 5223 : 5222), directTLS: direct)]
        }
        guard let nameserver = configuration.nameserver ?? DNSResolver.Nameserver.system() else {
            throw XMPPConnectionError.dns(domain: domain, reason: "no nameserver configured")
        }
        let resolver = DNSResolver(nameserver: nameserver)
        // XEP-0368: direct TLS and STARTTLS records are tried together, by priority; with
        // neither, the domain itself on the default port (RFC 6120 3.2.2).
        var records: [(DNSResolver.Service, Bool)] = []
        var lookupFailure: DNSError?
        for (service, isDirect) in [("_xmpps-client._tcp", true), ("_xmpp-client._tcp", false)] {
            if isDirect ? configuration.tls == .none : direct { continue }
            do {
                records += try await resolver.lookupSRV("\(service).\(domain)").map { ($0, isDirect) }
            } catch {
                lookupFailure = error
            }
        }
        if records.isEmpty, let lookupFailure {
            throw XMPPConnectionError.dns(domain: domain, reason: lookupFailure.description)
        }
        var targets = records.enumerated()
            .sorted { ($0.element.0.priority, $0.offset) < ($1.element.0.priority, $1.offset) }
            .map { (host: $0.element.0.target, port: Int($0.element.0.port), directTLS: $0.element.1) }
        if targets.isEmpty {
            targets = [(host: domain, port: configuration.port ?? (direct ? 5223 : 5222), directTLS: direct)]
        }
        // Addresses come from the same nameserver, so nothing falls back to the system resolver.
        var endpoints: [Endpoint] = []
        var lastError: DNSError?
        for target in targets {
            do {
                for address in try await resolver.lookupAddresses(target.host) {
                    endpoints.append(Endpoint(host: address, port: target.port, directTLS: target.directTLS))
                }
            } catch {
                lastError = error
            }
        }
        if endpoints.isEmpty {
            throw XMPPConnectionError.dns(domain: domain, reason: lastError?.description ?? "no address for \(targets.map(\.host).joined(separator: ", "))")
        }
        return endpoints
    }

    private func open(_ endpoint: Endpoint) async throws {
        // tls = "none" goes to a loopback address only: an address literal is checked now,
        // a name once it is resolved (below), since "127.example.net" may be anywhere.
        if configuration.tls == .none && Self.isIPAddress(endpoint.host) && !Self.isLoopback(endpoint.host) {
            throw XMPPConnectionError.plaintextRefused(host: endpoint.host)
        }
        logger.info("connecting to \(endpoint.host):\(endpoint.port)\(endpoint.directTLS ? " (direct TLS)" : "")")
        let timeout = TimeAmount.nanoseconds(Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000)
        let socket: any StreamTransport
        do {
            socket = try await connector(endpoint.host, endpoint.port, timeout)
        } catch {
            throw XMPPConnectionError.tcp(host: endpoint.host, port: endpoint.port, reason: Self.describe(error))
        }
        if configuration.tls == .none && !Self.isLoopback(socket.remoteIPAddress ?? "") {
            socket.close()
            throw XMPPConnectionError.plaintextRefused(host: "\(endpoint.host) (\(socket.remoteIPAddress ?? "?"))")
        }
        transport = socket
        endpointHost = endpoint.host
        inbound = socket.inbound.makeAsyncIterator()
        parser = XMLStreamParser()
        bufferedStreamEvents = []
        if endpoint.directTLS {
            try await startTLS(alpn: ["xmpp-client"])
        }
    }

    /// Whether `address` is a loopback IP address (127.0.0.0/8, ::1, or IPv4-mapped 127/8);
    /// a host name never is, whatever it looks like.
    static func isLoopback(_ address: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, address, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, address, &v6) == 1 else { return false }
        let bytes = withUnsafeBytes(of: &v6) { Array($0) }
        if bytes == [UInt8](repeating: 0, count: 15) + [1] { return true }
        return bytes.prefix(12).elementsEqual([UInt8](repeating: 0, count: 10) + [0xFF, 0xFF]) && bytes[12] == 127
    }

    static func describe(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        let text = String(describing: error)
        if text.contains("connectTimeout") { return "timed out" }
        if text.contains("connectionRefused") || text.contains("Connection refused") { return "connection refused" }
        return text
    }

    private func startTLS(alpn: [String]) async throws {
        var settings = TLSConfiguration(serverName: configuration.jid.domain,
                                        trust: configuration.caFile.map { .caFile($0) } ?? .system,
                                        pinnedCertificateSHA256: configuration.pinnedCertificateSHA256)
        settings.alpn = alpn
        settings.maximumVersion = configuration.maximumTLSVersion
        let session = try TLSSession(client: settings)
        tls = session
        try session.startHandshake()
        flushTLS()
        while !session.isHandshakeComplete {
            guard var iterator = inbound else { throw XMPPConnectionError.notConnected }
            guard let buffer = try await iterator.next(isolation: self) else { throw XMPPConnectionError.closed }
            inbound = iterator
            let early = try session.feed(network: Array(buffer.readableBytesView))
            flushTLS()
            if !early.isEmpty { bufferedStreamEvents += try parse(early) }
        }
        logger.info("TLS established: \(session.negotiatedVersion ?? "?")")
    }

    /// Opens (or re-opens, after TLS and SASL) the stream and returns its features.
    private func openStream() async throws -> XMLElement {
        parser = XMLStreamParser()
        bufferedStreamEvents = []
        write(raw: XMLStream.header(to: configuration.jid.domain, from: tls == nil ? nil : configuration.jid.description))
        let features = try await nextElement()
        guard features.name == "features", features.namespace == Namespace.stream else {
            throw XMPPConnectionError.protocolViolation("expected stream features, got <\(features.name)>")
        }
        return features
    }

    private func negotiateSession() async throws {
        var features = try await openStream()
        // tls = "none" means none: a loopback test server in the clear, never an upgrade.
        if tls == nil && configuration.tls != .none {
            if features.child("starttls", namespace: Namespace.tls) != nil {
                write(XMLElement("starttls", namespace: Namespace.tls))
                let answer = try await nextElement()
                guard answer.name == "proceed" else { throw XMPPConnectionError.starttlsRefused(host: endpointHost ?? configuration.jid.domain) }
                bufferedStreamEvents = []
                try await startTLS(alpn: [])
                features = try await openStream()
            } else {
                throw XMPPConnectionError.starttlsUnavailable(host: endpointHost ?? configuration.jid.domain)
            }
        }
        try await authenticate(features)
        features = try await openStream()

        serverVersionsRoster = features.child("ver", namespace: Namespace.rosterVersioning) != nil
        serverTakesPreApprovals = features.child("sub", namespace: Namespace.preApproval) != nil
        let offersStreamManagement = features.child("sm", namespace: Namespace.streamManagement) != nil
        if offersStreamManagement, streamManagement.resumptionID != nil, boundJID != nil, !streamManagement.mayResume {
            // Resuming this session failed again and again without a <failed/>: give it up.
            // What it did not confirm is the outbox's to resend in the new session.
            logger.warning("stream resumption failed \(streamManagement.unconfirmedResumptions) times; starting a new session")
            _ = streamManagement.reset()
        }
        if offersStreamManagement, let previous = streamManagement.resumptionID, boundJID != nil {
            streamManagement.resumptionAttempted()
            write(XMLElement("resume", namespace: Namespace.streamManagement, attributes: [
                XMLAttribute("previd", previous), XMLAttribute("h", String(streamManagement.inboundHandled)),
            ]))
            let answer: XMLElement
            do {
                answer = try await nextElement()
            } catch let error as XMPPConnectionError {
                // A stream error instead of <resumed/> or <failed/> (Prosody's not-well-formed, say):
                // the server will not resume this session on this footing, and trying the same
                // resume again could keep us offline for good, with the outbox never sent. Give
                // it up now: tearing the connection down then ends the session, the next
                // connection binds a new one, and the outbox resends all that was not confirmed.
                // (A plain drop mid-resume is retried, up to `maximumUnconfirmedResumptions`.)
                if case .streamError = error {
                    logger.warning("stream resumption answered with an error (\(error)); the next connection starts a new session")
                    _ = streamManagement.reset()
                }
                throw error
            } catch let error as XMLStreamError {
                // Our parser refused the answer: the same, from our side.
                logger.warning("stream resumption answered with bad XML (\(error)); the next connection starts a new session")
                _ = streamManagement.reset()
                throw error
            }
            if answer.name == "resumed" {
                try await finishResumption(answer)
                return
            }
            // The old session is gone: what the server confirmed in <failed h=…/> is settled;
            // the rest is the layers above's to resend (they keep an outbox), never ours.
            var acknowledged: [String] = []
            if let h = answer[attribute: "h"].flatMap(UInt32.init), let acked = try? streamManagement.acknowledge(h) {
                acknowledged = acked.compactMap { $0[attribute: "id"] }
            }
            _ = streamManagement.reset()
            if !acknowledged.isEmpty { await emit([.acknowledged(ids: acknowledged)]) }
            logger.info("stream resumption refused; starting a new session")
        }
        try await bind(features)
    }

    private func finishResumption(_ resumed: XMLElement) async throws {
        var acknowledged: [String] = []
        if let h = resumed[attribute: "h"].flatMap(UInt32.init) {
            acknowledged = try acknowledgeOrGiveUpSession(h).compactMap { $0[attribute: "id"] }
        }
        isOnline = true
        // What the server did not get goes again, in order, still counted as sent.
        for stanza in streamManagement.unacknowledged { write(raw: stanza.serialized(parentNamespace: Namespace.client)) }
        // Always ask: the server's <a/> is what shows this resumed stream works (and resets
        // the count of failed resumptions).
        requestAcknowledgement()
        logger.info("stream resumed; resent \(streamManagement.unacknowledged.count) stanzas")
        var events: [XMPPEvent] = [.connectionState(.online)]
        if !acknowledged.isEmpty { events.append(.acknowledged(ids: acknowledged)) }
        // A session dropped while it was being set up resumes into finishing that set-up.
        if sessionSetUp, let boundJID {
            sessionCounts.resumed += 1
            events.append(.sessionStarted(boundJID: boundJID, resumed: true))
        }
        await emit(events)
        startKeepalive()
        if !sessionSetUp { Task { await self.afterLogin() } }
    }

    private func bind(_ features: XMLElement) async throws {
        guard features.child("bind", namespace: Namespace.bind) != nil else {
            throw XMPPConnectionError.bindFailed("the server offered no resource binding")
        }
        let id = newStanzaID()
        var bindElement = XMLElement("bind", namespace: Namespace.bind)
        bindElement.append(.textElement("resource", namespace: Namespace.bind, configuration.resource))
        write(.iq(.set, id: id, payload: bindElement))
        let asked = ContinuousClock.now
        let answer = try await nextElement()
        // The server's share of a login, for benchmarks (Prosody loads the roster at bind).
        logger.debug("bind answered in \((ContinuousClock.now - asked).wholeMilliseconds) ms")
        guard answer.name == "iq", answer[attribute: "id"] == id else {
            throw XMPPConnectionError.protocolViolation("unexpected <\(answer.name)> while binding")
        }
        if let error = StanzaError(stanza: answer) { throw XMPPConnectionError.bindFailed(error.condition) }
        guard let text = answer.child("bind", namespace: Namespace.bind)?.childText("jid", namespace: Namespace.bind),
              let jid = try? JID(text), jid.bare == configuration.jid.bare else {
            throw XMPPConnectionError.bindFailed("the server bound an address that is not ours")
        }
        boundJID = jid
        sessionSetUp = false
        serverAssignsStanzaIDs = false
        sentInSession = []
        confirmedInSession = []
        endSession()
        streamManagementEnabled = false
        streamManagement = StreamManagementState()
        if features.child("sm", namespace: Namespace.streamManagement) != nil {
            write(XMLElement("enable", namespace: Namespace.streamManagement, attributes: [XMLAttribute("resume", "true")]))
            let answer = try await nextElement()
            if answer.name == "enabled" {
                streamManagementEnabled = true
                let resumable = answer[attribute: "resume"] == "true" || answer[attribute: "resume"] == "1"
                streamManagement.enabled(resumptionID: resumable ? answer[attribute: "id"] : nil,
                                         location: answer[attribute: "location"])
            } else {
                logger.warning("server refused stream management")
            }
        }
        isOnline = true
        logger.info("session started as \(jid)")
        // `.online` waits for our presence (afterLogin): before it, messages to our bare
        // address are not routed to this resource, and a front end that said "online" would
        // miss what a contact sent at once.
        startKeepalive()
        Task { await self.afterLogin() }
    }

    // MARK: SASL

    private func authenticate(_ features: XMLElement) async throws {
        let offered = features.child("mechanisms", namespace: Namespace.sasl)?
            .children("mechanism", namespace: Namespace.sasl).map(\.text) ?? []
        let bindingTypes = features.child("sasl-channel-binding", namespace: Namespace.saslChannelBinding)?
            .children("channel-binding").compactMap { $0[attribute: "type"] }
        let binding = channelBinding(advertised: bindingTypes)

        let username = configuration.jid.local ?? ""
        var scram: SCRAMClient?
        let mechanism: String
        let initial: [UInt8]
        if case .bound = binding, offered.contains("SCRAM-SHA-256-PLUS") {
            mechanism = "SCRAM-SHA-256-PLUS"
            scram = SCRAMClient(hash: .sha256, username: username, password: configuration.password, binding: binding)
        } else if case .bound = binding, offered.contains("SCRAM-SHA-1-PLUS") {
            mechanism = "SCRAM-SHA-1-PLUS"
            scram = SCRAMClient(hash: .sha1, username: username, password: configuration.password, binding: binding)
        } else if offered.contains("SCRAM-SHA-256") {
            mechanism = "SCRAM-SHA-256"
            scram = SCRAMClient(hash: .sha256, username: username, password: configuration.password,
                                binding: Self.unboundFlag(binding, offered: offered))
        } else if offered.contains("SCRAM-SHA-1") {
            mechanism = "SCRAM-SHA-1"
            scram = SCRAMClient(hash: .sha1, username: username, password: configuration.password,
                                binding: Self.unboundFlag(binding, offered: offered))
        } else if offered.contains("PLAIN") {
            guard tls != nil else { throw XMPPConnectionError.sasl(.plainRefusedWithoutTLS) }
            mechanism = "PLAIN"
        } else {
            throw XMPPConnectionError.sasl(.noSupportedMechanism(offered))
        }
        initial = scram?.initialMessage() ?? Array("\0\(username)\0\(configuration.password)".utf8)
        logger.info("authenticating with \(mechanism)")
        authenticationMechanism = mechanism

        write(.textElement("auth", namespace: Namespace.sasl, Self.base64(initial),
                           attributes: [XMLAttribute("mechanism", mechanism)]))
        while true {
            let answer = try await nextElement()
            guard answer.namespace == Namespace.sasl else {
                throw XMPPConnectionError.protocolViolation("unexpected <\(answer.name)> during authentication")
            }
            let payload = Data(base64Encoded: answer.text.trimmingCharacters(in: .whitespacesAndNewlines)).map(Array.init) ?? []
            switch answer.name {
            case "challenge":
                guard var current = scram else { throw XMPPConnectionError.sasl(.malformedChallenge("unexpected challenge")) }
                do {
                    let response = try current.respond(to: payload)
                    scram = current
                    write(.textElement("response", namespace: Namespace.sasl, Self.base64(response)))
                } catch {
                    write(XMLElement("abort", namespace: Namespace.sasl))
                    throw XMPPConnectionError.sasl(error)
                }
            case "success":
                if let scram {
                    do { try scram.verify(serverFinal: payload) } catch { throw XMPPConnectionError.sasl(error) }
                }
                return
            case "failure":
                let condition = answer.elements.first { $0.name != "text" }?.name
                let text = answer.childText("text", namespace: Namespace.sasl)
                if condition == "not-authorized" || condition == "credentials-expired" || condition == "account-disabled" {
                    throw XMPPConnectionError.sasl(.notAuthorized(text ?? (condition == "not-authorized" ? nil : condition)))
                }
                throw XMPPConnectionError.sasl(.serverRejected(text ?? condition ?? "failure"))
            default:
                throw XMPPConnectionError.protocolViolation("unexpected <\(answer.name)> during authentication")
            }
        }
    }

    /// Channel binding to offer: the advertised type we support (XEP-0440), else the one
    /// RFC 9266 makes the default for TLS 1.3, else tls-unique for TLS 1.2.
    private func channelBinding(advertised: [String]?) -> SCRAMClient.Binding {
        guard let tls else { return .unsupported }
        let preference: [ChannelBindingType]
        if let advertised {
            preference = [.tlsExporter, .tlsServerEndPoint, .tlsUnique].filter { advertised.contains($0.rawValue) }
        } else {
            preference = tls.negotiatedVersion == "TLSv1.3" ? [.tlsExporter] : [.tlsUnique]
        }
        for type in preference {
            if let data = tls.channelBinding(type) { return .bound(type: type.rawValue, data: data) }
        }
        return .unsupported
    }

    /// Without binding: "y" tells a server that offers -PLUS that we could have bound, so a
    /// man in the middle who stripped -PLUS is caught.
    private static func unboundFlag(_ binding: SCRAMClient.Binding, offered: [String]) -> SCRAMClient.Binding {
        guard case .bound = binding else { return .unsupported }
        return offered.contains(where: { $0.hasSuffix("-PLUS") }) ? .unsupported : .supportedButNotOffered
    }

    static func base64(_ bytes: [UInt8]) -> String {
        bytes.isEmpty ? "=" : Data(bytes).base64EncodedString()
    }
}
