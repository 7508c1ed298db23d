package org.leanseg.backend.cpu;

import org.leanseg.backend.View;
import org.leanseg.tensor.TensorSpec;

/** A window of native memory: {@code spec}'s elements as 4-byte slots from {@code address} on, row-major. */
public record CpuView(long address, TensorSpec spec) implements View {
    public int numel() {
        return spec.shape().size();
    }

    /** Address of element {@code i}. */
    public long at(long i) {
        return address + 4 * i;
    }
}
