/// G.711 companding (ITU-T G.711), µ-law (PCMU, payload type 0) and A-law (PCMA, 8):
/// one byte per 8 kHz sample, for gateways that offer nothing else.
public enum G711 {
    // MARK: µ-law

    public static func encodeMuLaw(_ sample: Int16) -> UInt8 {
        // µ-law works on a 14-bit magnitude with a bias of 33 (132 at 16-bit scale), which
        // makes every segment start at a power of two.
        let bias = 132
        let clip = 32635
        var magnitude = Int(sample)
        let sign: UInt8 = magnitude < 0 ? 0x80 : 0
        if magnitude < 0 { magnitude = -magnitude }
        magnitude = min(magnitude, clip) + bias
        var exponent = 7
        var mask = 0x4000
        while exponent > 0 && magnitude & mask == 0 {
            exponent -= 1
            mask >>= 1
        }
        let mantissa = (magnitude >> (exponent + 3)) & 0x0F
        return ~(sign | UInt8(exponent << 4) | UInt8(mantissa))
    }

    public static func decodeMuLaw(_ byte: UInt8) -> Int16 {
        let value = ~byte
        let exponent = Int(value >> 4) & 0x07
        let mantissa = Int(value & 0x0F)
        let magnitude = ((mantissa << 3) + 132) << exponent
        return Int16(value & 0x80 != 0 ? 132 - magnitude : magnitude - 132)
    }

    // MARK: A-law

    public static func encodeALaw(_ sample: Int16) -> UInt8 {
        // A-law works on 13 bits; even bits are inverted on the wire (XOR 0x55).
        var value = Int(sample)
        let positive = value >= 0
        if !positive { value = -value - 1 }
        let magnitude = value >> 3
        var code: Int
        if magnitude < 32 {
            code = magnitude >> 1
        } else {
            var segment = 1
            while segment < 7 && magnitude >= 32 << segment { segment += 1 }
            code = segment << 4 | ((magnitude >> segment) & 0x0F)
        }
        return UInt8(code) ^ (positive ? 0xD5 : 0x55)
    }

    public static func decodeALaw(_ byte: UInt8) -> Int16 {
        let value = byte ^ 0x55
        let segment = Int(value >> 4) & 0x07
        let mantissa = Int(value & 0x0F)
        // Reconstruct at the middle of the quantisation interval.
        let magnitude = segment == 0 ? (mantissa << 1) + 1 : ((mantissa + 16) << segment) + (1 << (segment - 1))
        let sample = magnitude << 3
        return Int16(value & 0x80 != 0 ? sample : -sample)
    }

    public static func encode(_ pcm: [Int16], aLaw: Bool) -> [UInt8] {
        pcm.map { aLaw ? encodeALaw($0) : encodeMuLaw($0) }
    }

    public static func decode(_ bytes: [UInt8], aLaw: Bool) -> [Int16] {
        bytes.map { aLaw ? decodeALaw($0) : decodeMuLaw($0) }
    }
}
