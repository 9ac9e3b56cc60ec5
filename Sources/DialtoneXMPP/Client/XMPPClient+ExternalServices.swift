import DialtoneXML
import Foundation

/// A STUN or TURN server the account's server recommends (XEP-0215), with time-limited
/// credentials for TURN, its host already resolved to an address.
public struct ExternalService: Sendable, Equatable {
    public var type: String
    public var transport: String
    public var host: String
    public var address: String
    public var port: UInt16
    public var username: String?
    public var password: String?
    public var expires: Date?
}

extension XMPPClient {
    /// The server's STUN and TURN services (XEP-0215 `urn:xmpp:extdisco:2`). Host names are
    /// resolved through the account's own resolver; services that do not resolve are left out.
    public func externalServices() async throws -> [ExternalService] {
        let domain = try JID(local: nil, domain: configuration.jid.domain)
        let answer = try await request(.iq(.get, id: newStanzaID(), to: domain,
                                           payload: XMLElement("services", namespace: Namespace.externalServices)),
                                       timeout: .seconds(5))
        let items = answer.child("services", namespace: Namespace.externalServices)?.children("service", namespace: Namespace.externalServices) ?? []
        let nameserver = configuration.nameserver ?? DNSResolver.Nameserver.system()
        var services: [ExternalService] = []
        for item in items {
            guard let type = item[attribute: "type"], let host = item[attribute: "host"],
                  let port = item[attribute: "port"].flatMap(UInt16.init) ?? (type.hasPrefix("stun") || type.hasPrefix("turn") ? 3478 : nil)
            else { continue }
            var address = host
            if !Self.isIPAddress(host) {
                guard let nameserver, let resolved = try? await DNSResolver(nameserver: nameserver).lookupAddresses(host).first else { continue }
                address = resolved
            }
            services.append(ExternalService(
                type: type, transport: item[attribute: "transport"] ?? "udp", host: host, address: address, port: port,
                username: item[attribute: "username"], password: item[attribute: "password"],
                expires: item[attribute: "expires"].flatMap(XMPPDateTime.parse)))
        }
        return services
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
