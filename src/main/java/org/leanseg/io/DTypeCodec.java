package org.leanseg.io;

import java.nio.ByteBuffer;
import org.leanseg.tensor.DType;

/**
 * Little-endian element encoding and decoding for safetensors: F32, F16, BF16, I64, I32, U8
 * to and from the float32 slots of {@link org.leanseg.tensor.Tensor}. F16 and BF16 are rounded to
 * nearest-even when written; integers must be exact floats (|v| < 2^24) both ways.
 */
final class DTypeCodec {
    /** Largest integer magnitude every smaller integer of which a float32 represents exactly. */
    static final long EXACT_INT_LIMIT = 1L << 24;

    private DTypeCodec() {
    }

    /** Thrown for an element that cannot be converted; the caller adds file and tensor name. */
    static final class ElementException extends Exception {
        ElementException(String message) {
            super(message);
        }
    }

    /**
     * Decodes {@code count} elements of {@code dtype} from {@code src} (little-endian, positioned)
     * into {@code dst[offset..]}.
     */
    static void decode(DType dtype, ByteBuffer src, float[] dst, int offset, int count) throws ElementException {
        switch (dtype) {
            case F32 -> src.asFloatBuffer().get(dst, offset, count);
            case F16 -> {
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = halfToFloat(src.getShort() & 0xffff);
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = Float.intBitsToFloat((src.getShort() & 0xffff) << 16);
                }
            }
            case I64 -> {
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = exactInt(src.getLong(), offset + i);
                }
            }
            case I32 -> {
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = exactInt(src.getInt(), offset + i);
                }
            }
            case U8 -> {
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = src.get() & 0xff;
                }
            }
        }
    }

    /** Encodes {@code src[offset..offset+count)} as {@code dtype} into {@code dst} (little-endian). */
    static void encode(DType dtype, float[] src, int offset, int count, ByteBuffer dst) throws ElementException {
        for (int i = offset; i < offset + count; i++) {
            float v = src[i];
            switch (dtype) {
                case F32 -> dst.putFloat(v);
                case F16 -> dst.putShort(floatToHalf(v));
                case BF16 -> dst.putShort(floatToBf16(v));
                case I64 -> dst.putLong(integral(v, Long.MIN_VALUE, Long.MAX_VALUE, dtype, i));
                case I32 -> dst.putInt((int) integral(v, Integer.MIN_VALUE, Integer.MAX_VALUE, dtype, i));
                case U8 -> dst.put((byte) integral(v, 0, 255, dtype, i));
            }
        }
    }

    private static float exactInt(long v, int index) throws ElementException {
        if (v <= -EXACT_INT_LIMIT || v >= EXACT_INT_LIMIT) {
            throw new ElementException("element " + index + " = " + v
                    + " is not exactly representable as float32 (|v| must be < 2^24)");
        }
        return v;
    }

    private static long integral(float v, long min, long max, DType dtype, int index) throws ElementException {
        if (v != Math.rint(v) || v < min || v > max) {
            throw new ElementException("element " + index + " = " + v + " is not a " + dtype
                    + " integer in [" + min + ", " + max + "]");
        }
        return (long) v;
    }

    /** IEEE 754 binary16 bits to float (exact). */
    static float halfToFloat(int h) {
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
    static short floatToHalf(float f) {
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

    /** Float to bfloat16 bits, rounding to nearest-even; NaN stays a (quiet) NaN. */
    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x40);
        }
        return (short) ((bits + 0x7fff + ((bits >>> 16) & 1)) >>> 16);
    }
}
