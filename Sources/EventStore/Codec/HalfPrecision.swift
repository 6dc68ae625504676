/// IEEE 754 half precision (binary16) by integer arithmetic, for the shortest-form floats of
/// deterministic CBOR (RFC 8949 section 4.2.2). Swift's `Float16` is missing on some platforms
/// (macOS on Intel), and the hash chain needs the same canonical bytes on every one.
enum HalfPrecision {
    /// The binary16 bits of `value` when it converts exactly (infinities included; NaN is the
    /// caller's: CBOR writes its one canonical NaN), else nil.
    static func bits(exactly value: Float) -> UInt16? {
        let raw = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: raw >> 16) & 0x8000
        let exponentField = Int((raw >> 23) & 0xff)
        let mantissa = raw & 0x7f_ffff
        if exponentField == 0 {
            // Zero keeps its sign; a single-precision subnormal is far below half's range.
            return mantissa == 0 ? sign : nil
        }
        if exponentField == 0xff { return mantissa == 0 ? sign | 0x7c00 : nil }
        let exponent = exponentField - 127
        switch exponent {
        case -14...15:
            // Normal in half precision: the 13 low mantissa bits must be zero.
            guard mantissa & 0x1fff == 0 else { return nil }
            return sign | UInt16(exponent + 15) << 10 | UInt16(mantissa >> 13)
        case -24 ... -15:
            // Subnormal in half precision: value = k * 2^-24 with k below 1024.
            let significand = mantissa | 0x80_0000
            let shift = UInt32(-(exponent + 1))
            guard significand & ((1 << shift) - 1) == 0 else { return nil }
            return sign | UInt16(significand >> shift)
        default:
            return nil
        }
    }

    /// The value of binary16 `bits`, exactly.
    static func value(bits: UInt16) -> Double {
        let negative = bits & 0x8000 != 0
        let exponent = Int((bits >> 10) & 0x1f)
        let mantissa = Double(bits & 0x3ff)
        let magnitude: Double
        switch exponent {
        case 0: magnitude = mantissa * 0x1p-24
        case 0x1f: magnitude = mantissa == 0 ? .infinity : .nan
        default: magnitude = (1024 + mantissa) * Double(sign: .plus, exponent: exponent - 25, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }
}
