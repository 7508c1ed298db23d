package org.leanseg.io;

import java.nio.ByteBuffer;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Half;

/**
 * Little-endian element encoding and decoding for safetensors: F32, F16, BF16, I64, I32, U8
 * to and from the float32 slots of {@link org.leanseg.tensor.Tensor}. F16 and BF16 are rounded to
 * nearest-even when written ({@link Half}); integers must be exact floats (|v| < 2^24) both ways.
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
                    dst[offset + i] = Half.halfToFloat(src.getShort() & 0xffff);
                }
            }
            case BF16 -> {
                for (int i = 0; i < count; i++) {
                    dst[offset + i] = Half.bf16ToFloat(src.getShort());
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
                case F16 -> dst.putShort(Half.floatToHalf(v));
                case BF16 -> dst.putShort(Half.floatToBf16(v));
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
}
