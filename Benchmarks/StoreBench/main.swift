// Store benchmark: 1,000,000 messages in 10,000 conversations, then the reads a user waits
// for — the conversation list, the newest 100 messages of one conversation, a full-text
// search. Run through Scripts/bench-store (release build); figures go to docs/benchmarks.md.
import DialtoneStore
import Foundation

let arguments = CommandLine.arguments
let path = arguments.count > 1 ? arguments[1] : NSTemporaryDirectory() + "dialtone-storebench/dialtone.sqlite"
let messages = arguments.count > 2 ? Int(arguments[2]) ?? 1_000_000 : 1_000_000
let conversations = arguments.count > 3 ? Int(arguments[3]) ?? 10_000 : 10_000

let words = ["pizza", "tonight", "meeting", "call", "later", "thanks", "dinner", "train", "late", "coffee", "weekend",
             "voicemail", "photo", "birthday", "doctor", "tomorrow", "running", "office", "parking", "great"]

func seconds(_ start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

func median(_ body: () throws -> Void) rethrows -> Double {
    var times: [Double] = []
    for _ in 0..<7 {
        let start = ContinuousClock.now
        try body()
        times.append(seconds(start))
    }
    return times.sorted()[3]
}

let store = try Store(path: path)
let existing = try store.messageCount()
if existing < messages {
    var generator = SystemRandomNumberGenerator()
    let start = ContinuousClock.now
    let base = Date(timeIntervalSince1970: 1_700_000_000)
    var index = existing
    while index < messages {
        var batch: [(peer: String, message: StoredMessage)] = []
        batch.reserveCapacity(20_000)
        for _ in 0..<min(20_000, messages - index) {
            let conversation = Int.random(in: 0..<conversations, using: &generator)
            let peer = "+1555\(String(format: "%07d", conversation))@cheogram.com"
            let text = (0..<Int.random(in: 4...16, using: &generator)).map { _ in words.randomElement(using: &generator)! }.joined(separator: " ")
            batch.append((peer, StoredMessage(
                direction: index % 3 == 0 ? .outgoing : .incoming, sender: peer, body: text, stanzaID: "id\(index)",
                dedupeKey: "id\(index)", archiveID: "a\(index)", timestamp: base.addingTimeInterval(Double(index)),
                status: .received)))
            index += 1
        }
        try store.record(batch)
    }
    print(String(format: "filled %d messages in %.1f s", messages - existing, seconds(start)))
}

var list: [Conversation] = []
let listTime = try median { list = try store.conversations() }
let peer = list[list.count / 2].peer
var history: [StoredMessage] = []
let historyTime = try median { history = try store.history(peer: peer, limit: 100) }
var results: [(peer: String, message: StoredMessage)] = []
let searchTime = try median { results = try store.search("birthday dinner", limit: 50) }
let rareTime = try median { _ = try store.search("voicemail parking doctor coffee", limit: 50) }
print(String(format: "messages %d, conversations %d", try store.messageCount(), list.count))
print(String(format: "conversation list: %.1f ms (%d rows)", listTime * 1000, list.count))
print(String(format: "newest 100 of one conversation: %.2f ms (%d rows)", historyTime * 1000, history.count))
print(String(format: "search \"birthday dinner\" (50 newest): %.1f ms (%d rows)", searchTime * 1000, results.count))
print(String(format: "search with 4 words: %.1f ms", rareTime * 1000))
