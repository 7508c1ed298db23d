package org.leanseg.tensor;

/**
 * Element types. F32 is the compute type of every kernel; F16/BF16 are storage types, for weights
 * files and for the activations and activation gradients of a mixed-precision step (Note [Mixed
 * precision] in {@code tensor/Precision}): values are stored rounded ({@link #round}) and computed
 * in float32. I32 holds labels and class indices; U8 images/masks; I64 exists only in safetensors
 * files (PyTorch's num_batches_tracked, labels).
 */
public enum DType {
    F32(4), F16(2), BF16(2), I32(4), U8(1), I64(8);

    private final int bytes;

    DType(int bytes) {
        this.bytes = bytes;
    }

    public int bytes() {
        return bytes;
    }

    public boolean isFloating() {
        return this == F32 || this == F16 || this == BF16;
    }

    /** F16 or BF16: a float stored in 16 bits. */
    public boolean isHalf() {
        return this == F16 || this == BF16;
    }

    /**
     * {@code v} as this type stores it: rounded to nearest-even for F16 (overflow to infinity) and
     * BF16 ({@link Half}), unchanged for the others.
     */
    public float round(float v) {
        return switch (this) {
            case F16 -> Half.halfToFloat(Half.floatToHalf(v));
            case BF16 -> Half.bf16ToFloat(Half.floatToBf16(v));
            default -> v;
        };
    }
}
