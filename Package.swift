// swift-tools-version:6.1
import PackageDescription

// Layers, lowest first; see docs/architecture.md. Each Dialtone module may import only the ones below it.
let package = Package(
    name: "Dialtone",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "dialtone", targets: ["dialtone"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/swiftcsv/SwiftCSV.git", from: "0.10.0"),
    ],
    targets: [
        // System libraries: a module map and a shim header each.
        // No pkg-config: its cflags (-D_XOPEN_SOURCE=600) are flags SwiftPM refuses; the shim sets what it needs.
        .systemLibrary(name: "CNcursesw", providers: [.apt(["libncurses-dev"])]),
        .systemLibrary(name: "CLibXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // HTTP for XEP-0363 uploads and attachment downloads (the OpenSSL flavour, like COpenSSL).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        // SRTP/SRTCP (RFC 3711, RFC 7714): the library baresip, pjsip, GStreamer and browsers use.
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CALSA", pkgConfig: "alsa", providers: [.apt(["libasound2-dev"])]),
        .systemLibrary(name: "CSndfile", pkgConfig: "sndfile", providers: [.apt(["libsndfile1-dev"])]),
        .systemLibrary(name: "CSpeexDSP", pkgConfig: "speexdsp", providers: [.apt(["libspeexdsp-dev"])]),
        // OMEMO (XEP-0384, both versions): the maintained fork of libsignal-protocol-c.
        .systemLibrary(name: "COmemo", pkgConfig: "libomemo-c", providers: [.apt(["libomemo-c-dev"])]),
        // crc32 for the STUN FINGERPRINT attribute.
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),

        // Process-wide C calls: prctl (variadic), OpenSSL's initialisation flags (macros).
        .target(name: "CProcess", linkerSettings: [.linkedLibrary("ssl"), .linkedLibrary("crypto")]),
        // libphonenumber is C++; this target gives it a C face.
        .target(name: "CPhoneNumbers", linkerSettings: [.linkedLibrary("phonenumber"), .linkedLibrary("stdc++")]),

        .target(name: "DialtoneXML", dependencies: ["CLibXML2"]),
        .target(name: "DialtoneTLS", dependencies: ["COpenSSL"]),
        .target(
            name: "DialtoneXMPP",
            dependencies: [
                "DialtoneXML", "DialtoneTLS", "COpenSSL", "CCurl",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "DialtoneICE",
            dependencies: [
                "COpenSSL", "CZlib", "DialtoneTLS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "DialtoneMedia",
            dependencies: [
                "COpus", "CALSA", "CSndfile", "CSpeexDSP", "CSRTP", "DialtoneTLS",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "DialtoneJingle",
            dependencies: [
                "DialtoneXML", "DialtoneXMPP", "DialtoneICE", "DialtoneMedia", "DialtoneTLS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]),
        .target(name: "DialtoneStore", dependencies: [.product(name: "GRDB", package: "GRDB.swift")]),
        // End-to-end encryption (OMEMO): libomemo-c with its cryptography on OpenSSL.
        .target(name: "DialtoneOMEMO", dependencies: ["COmemo", "COpenSSL"]),
        .target(
            name: "DialtoneCore",
            dependencies: [
                // DialtoneTLS: the account's certificate pin is read here. No DialtoneXML: stanzas
                // are built and read through DialtoneXMPP's typed Message.
                "DialtoneXMPP", "DialtoneTLS", "DialtoneStore", "DialtoneJingle", "DialtoneICE", "DialtoneMedia", "DialtoneOMEMO",
                "CPhoneNumbers",
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "SwiftCSV", package: "SwiftCSV"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Curses rendering and input only; everything it knows of the account comes through DialtoneCore.
        .target(name: "DialtoneTUI", dependencies: ["DialtoneCore", "CNcursesw", .product(name: "TOMLKit", package: "TOMLKit")]),
        .executableTarget(
            name: "dialtone",
            dependencies: [
                // Front end: Core's facade only, plus argument parsing and process set-up.
                "DialtoneCore", "DialtoneTUI", "CProcess",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        // Parser throughput; Scripts/bench-xml builds it in release and runs it.
        .executableTarget(name: "XMLBench", dependencies: ["DialtoneXML"], path: "Benchmarks/XMLBench"),
        .executableTarget(name: "StoreBench", dependencies: ["DialtoneStore"], path: "Benchmarks/StoreBench"),
        // OMEMO CPU a message (and a session set-up) beside plain text; Scripts/bench-omemo runs it.
        .executableTarget(name: "OMEMOBench", dependencies: ["DialtoneCore", "DialtoneOMEMO", "DialtoneStore", "DialtoneXMPP", "DialtoneXML"],
                          path: "Benchmarks/OMEMOBench"),
        // Time to a nominated pair on loopback and checks per second; Scripts/bench-ice runs it.
        .executableTarget(name: "ICEBench", dependencies: ["DialtoneICE"], path: "Benchmarks/ICEBench"),
        // Media pipeline CPU per frame; Scripts/bench-media builds it in release and runs it.
        .executableTarget(name: "MediaBench", dependencies: ["DialtoneMedia", "DialtoneTLS"], path: "Benchmarks/MediaBench"),

        // What several test targets share: starting child processes, the Python peers, missing parts.
        .target(name: "DialtoneTestSupport", path: "Tests/DialtoneTestSupport"),
        .testTarget(name: "DialtoneXMLTests", dependencies: ["DialtoneXML"], exclude: ["Fuzz"]),
        .testTarget(name: "DialtoneTLSTests", dependencies: ["DialtoneTLS"]),
        .testTarget(name: "DialtoneXMPPTests", dependencies: ["DialtoneXMPP", "DialtoneXML"], exclude: ["Fuzz"]),
        .testTarget(
            name: "DialtoneICETests",
            dependencies: [
                "DialtoneICE", "DialtoneTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Peers", "Fuzz"]),
        .testTarget(name: "DialtoneMediaTests", dependencies: ["DialtoneMedia", "DialtoneTLS", "CSndfile", "DialtoneTestSupport"], exclude: ["Peers", "Fuzz"]),
        .testTarget(
            name: "DialtoneJingleTests", dependencies: ["DialtoneJingle", "DialtoneXMPP", "DialtoneXML", "DialtoneMedia", "DialtoneICE"],
            exclude: ["Fuzz"]),
        .testTarget(name: "DialtoneStoreTests", dependencies: ["DialtoneStore"]),
        .testTarget(name: "DialtoneOMEMOTests", dependencies: ["DialtoneOMEMO", "COmemo", "DialtoneTestSupport"]),
        .testTarget(name: "DialtoneCoreTests", dependencies: ["DialtoneCore", "DialtoneXMPP", "DialtoneXML", "DialtoneStore", "DialtoneOMEMO"], exclude: ["Fixtures"]),
        .testTarget(name: "DialtoneTUITests", dependencies: ["DialtoneTUI", "DialtoneCore"]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "DialtoneCore", "DialtoneXMPP", "DialtoneXML", "DialtoneStore", "DialtoneJingle", "DialtoneMedia", "DialtoneTLS",
                "DialtoneTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            exclude: ["Peers"]),
    ],
    swiftLanguageModes: [.v6]
)

// A module uses only members of the modules it imports itself (SE-0444): an extension method of
// a module reached through another's import is an error, so no layer leans on what it did not
// declare. With `--explicit-target-dependency-import-check error` (Scripts/test) this keeps
// the layers honest.
// Not for the two modules that read C structs from several system modules at once (sockets,
// timevals): Swift attributes such a struct to whichever module it loaded first, and a
// release build then asks for an import of a module we do not declare (CNIOLinux, CALSA).
for target in package.targets where target.type != .system && !["DialtoneICE", "DialtoneMedia"].contains(target.name) {
    target.swiftSettings = (target.swiftSettings ?? []) + [.enableUpcomingFeature("MemberImportVisibility")]
}
