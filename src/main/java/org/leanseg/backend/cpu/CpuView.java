package org.leanseg.backend.cpu;

import org.leanseg.backend.View;
import org.leanseg.tensor.TensorSpec;

/**
 * A window of native memory: {@code spec}'s elements from {@code address} on, row-major, in 4-byte
 * slots, or 2-byte ones for a 16-bit float type (Note [Mixed precision]: only kernels whose op-table
 * cell takes 16-bit views see those; {@link #at} is for 4-byte elements).
 */
public record CpuView(long address, TensorSpec spec) implements View {
    public int numel() {
        return spec.shape().size();
    }

    /** Address of element {@code i}. */
    public long at(long i) {
        return address + (long) spec.dtype().bytes() * i;
    }
}
