/// Dialtone's version: what `dialtone --version` prints and what other clients are told when
/// they ask (XEP-0092, unless the account says `software_version = false`).
public enum DialtoneVersion {
    public static let string = "0.1.0"
}
