import DialtoneXMPP
import DialtoneTestSupport
import Foundation
import XCTest

/// Our account (`dt`, run as the `dialtone` binary with its own configuration) and a contact's
/// account for an independent peer: the opening the contact-feature tests share.
class ContactPeerTestCase: PythonPeerTestCase {
    var us: (jid: JID, password: String)!
    var them: (jid: JID, password: String)!
    var config: String!

    /// The contact account's name prefix.
    class var contactName: String { "peer" }
    /// More lines for our account's configuration.
    class var configurationExtra: String { "" }

    override func setUp() async throws {
        try await super.setUp()
        us = try environment.newAccount("dt")
        them = try environment.newAccount(Self.contactName)
        config = try environment.writeConfiguration(for: us, in: URL(fileURLWithPath: harness.path("")), extra: Self.configurationExtra)
    }

    /// `dialtone SUBCOMMAND … --config C` for our account, to its end, which must be a success.
    func run(_ arguments: [String]) async throws -> ChildProcess {
        try await runDialtone(arguments, config: config)
    }

    /// The JSON lines of one type a `listen --json` (or other subcommand) printed.
    func lines(_ child: ChildProcess, type: String) -> [[String: Any]] {
        CallHarness.jsonLines(child.output).filter { $0["type"] as? String == type }
    }
}
