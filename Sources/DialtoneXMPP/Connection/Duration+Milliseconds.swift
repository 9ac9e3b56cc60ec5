extension Duration {
    /// Whole milliseconds, rounded down: for poll timeouts and log lines.
    var wholeMilliseconds: Int {
        Int(components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000)
    }
}
