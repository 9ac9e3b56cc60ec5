#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures tones in PCM, for `dialtone audio test` and for tests that check a call carries
/// the right sound without a human listening.
public enum ToneAnalysis {
    /// Power at one frequency (Goertzel), normalised by the sample count.
    public static func power(of samples: UnsafeBufferPointer<Int16>, at frequency: Double, sampleRate: Double) -> Double {
        let coefficient = 2 * cos(2 * Double.pi * frequency / sampleRate)
        var s1 = 0.0
        var s2 = 0.0
        for sample in samples {
            let s0 = Double(sample) + coefficient * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        return power / Double(max(1, samples.count))
    }

    public static func power(of samples: [Int16], at frequency: Double, sampleRate: Double) -> Double {
        samples.withUnsafeBufferPointer { power(of: $0, at: frequency, sampleRate: sampleRate) }
    }

    /// The strongest frequency between `low` and `high`: a 10 Hz scan, then 1 Hz around the peak.
    public static func dominantFrequency(_ samples: [Int16], sampleRate: Double, low: Double = 100, high: Double = 3000) -> Double {
        samples.withUnsafeBufferPointer { buffer in
            func best(_ candidates: StrideThrough<Double>) -> Double {
                var top = candidates.first(where: { _ in true }) ?? low
                var topPower = -1.0
                for f in candidates {
                    let p = power(of: buffer, at: f, sampleRate: sampleRate)
                    if p > topPower { topPower = p; top = f }
                }
                return top
            }
            let coarse = best(stride(from: low, through: high, by: 10))
            return best(stride(from: coarse - 10, through: coarse + 10, by: 1))
        }
    }

    /// Root-mean-square level, 0...32767.
    public static func rms(_ samples: ArraySlice<Int16>) -> Double {
        guard !samples.isEmpty else { return 0 }
        var sum = 0.0
        for s in samples { sum += Double(s) * Double(s) }
        return (sum / Double(samples.count)).squareRoot()
    }

    /// A sine at `frequency`, continuing from sample index `start` so consecutive frames join.
    public static func sine(frequency: Double, sampleRate: Double, count: Int, start: Int = 0, amplitude: Double = 8000) -> [Int16] {
        (0..<count).map { Int16(amplitude * sin(2 * Double.pi * frequency * Double(start + $0) / sampleRate)) }
    }
}
