package org.leanseg.tensor;

/**
 * The 16-bit float formats as bits: IEEE 754 binary16 ({@link DType#F16}) and bfloat16
 * ({@link DType#BF16}, the top half of a float32), each converted from float32 by rounding to
 * nearest-even, as CUDA's {@code __float2half_rn}/{@code __float2bfloat16_rn} and oneDNN do.
 * binary16 overflows to infinity (|v| >= 65520 rounds up past 65504); NaN stays NaN in both.
 * Safetensors files ({@code io/DTypeCodec}) and mixed-precision storage ({@link DType#round})
 * both convert here. Check: {@code mvn -B -q test -Dtest=HalfTest}.
 */
public final class Half {
    private Half() {
    }

    /** IEEE 754 binary16 bits to float (exact). */
    public static float halfToFloat(int h) {
        int sign = (h & 0x8000) << 16;
        int exp = (h >>> 10) & 0x1f;
        int mant = h & 0x3ff;
        if (exp == 0x1f) {
            return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
        }
        if (exp == 0) {
            float v = mant * 0x1p-24f; // zero or subnormal
            return sign != 0 ? -v : v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** Float to binary16 bits, rounding to nearest-even; overflow gives infinity. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = (bits >>> 23) & 0xff;
        int mant = bits & 0x7fffff;
        if (exp == 0xff) {
            return (short) (sign | 0x7c00 | (mant != 0 ? 0x200 | (mant >>> 13) : 0));
        }
        int e = exp - 127 + 15;
        if (e >= 0x1f) {
            return (short) (sign | 0x7c00);
        }
        if (e <= 0) { // half subnormal: value = m * 2^-24 with m = full mantissa >> (14 - e)
            if (e < -10) {
                return (short) sign;
            }
            int full = mant | 0x800000;
            int shift = 14 - e;
            return (short) (sign | roundShift(full, shift));
        }
        // A carry out of the mantissa correctly bumps the exponent (up to infinity).
        return (short) (sign | ((e << 10) + roundShift(mant, 13)));
    }

    /** {@code value >> shift}, rounded to nearest-even. */
    private static int roundShift(int value, int shift) {
        int q = value >>> shift;
        int rem = value & ((1 << shift) - 1);
        int half = 1 << (shift - 1);
        if (rem > half || (rem == half && (q & 1) != 0)) {
            q++;
        }
        return q;
    }

    /** bfloat16 bits to float (exact). */
    public static float bf16ToFloat(int b) {
        return Float.intBitsToFloat((b & 0xffff) << 16);
    }

    /** Float to bfloat16 bits, rounding to nearest-even; NaN stays a (quiet) NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
