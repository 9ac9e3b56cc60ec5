@testable import DialtoneCore
import XCTest

/// The config file as a user writes it, into the settings calls and connections use.
final class ConfigurationTests: XCTestCase {
    private func account(_ extra: String) throws -> AccountConfiguration {
        try Configuration.parse("""
            [[account]]
            jid = "me@example.org"
            password_file = "/dev/null"
            \(extra)
            """).account(nil)
    }

    func testAudioThreadsAreRealTimeUnlessSwitchedOff() throws {
        XCTAssertTrue(try account("").callConfiguration().media.realtimeAudio)
        XCTAssertFalse(try account("realtime_audio = false").callConfiguration().media.realtimeAudio)
    }

    func testVoiceProcessingSwitchesEachWay() throws {
        let media = try account("echo_cancellation = false\nauto_gain = true").callConfiguration().media
        XCTAssertFalse(media.voice.echoCancellation)
        XCTAssertTrue(media.voice.noiseSuppression, "untouched keys keep their defaults")
        XCTAssertTrue(media.voice.automaticGain)
    }

    func testWrongValuesAreNamedInTheError() {
        XCTAssertThrowsError(try account("realtime_audio = \"yes\"")) { error in
            XCTAssertTrue("\(error)".contains("realtime_audio"), "\(error)")
        }
        XCTAssertThrowsError(try account("calls_from = \"friends\"")) { error in
            XCTAssertTrue("\(error)".contains("calls_from must be"), "\(error)")
        }
    }
}
