import DialtoneStore

/// Which stored messages this process has told its front end about.
///
/// Two processes of one account (a `listen` beside the terminal interface) each get every
/// message on their own connection, but only the first to store it inserts it; the other
/// finds a duplicate. A duplicate this process never published was stored by another one, so
/// it is published here too; one it did publish (a carbon and its archive copy) is not again.
struct PublishedMessages {
    private var ids: Set<Int64> = []
    /// Rows up to this one were stored before this process started watching: old, not news.
    private let start: Int64
    /// How far the look for others' rows has read; rows of ours between are skipped as noted.
    var scannedThrough: Int64

    /// Bounded: the oldest half is forgotten past this many; they are far below anything new.
    private let capacity: Int

    init(startingAfter highest: Int64, capacity: Int = 20_000) {
        self.start = highest
        self.scannedThrough = highest
        self.capacity = capacity
    }

    /// Records `id`; true the first time a row stored since the start is seen (publish it).
    mutating func note(_ id: Int64) -> Bool {
        guard id > start, !ids.contains(id) else { return false }
        if ids.count >= capacity {
            let sorted = ids.sorted()
            ids = Set(sorted[(sorted.count / 2)...])
        }
        ids.insert(id)
        return true
    }
}
