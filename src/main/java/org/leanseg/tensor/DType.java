package org.leanseg.tensor;

/**
 * Element types. F32 is the compute type of every kernel today; F16/BF16 are storage types for
 * weights files and (later) mixed precision; I32 holds labels and class indices; U8 images/masks;
 * I64 exists only in safetensors files (PyTorch's num_batches_tracked, labels).
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
}
