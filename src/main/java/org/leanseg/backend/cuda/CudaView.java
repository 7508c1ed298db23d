package org.leanseg.backend.cuda;

import org.leanseg.backend.View;
import org.leanseg.tensor.TensorSpec;

/**
 * A typed window of device memory: base address + byte offset. Every dtype occupies 4-byte float
 * slots, as on the reference backend, but the 16-bit float types, which take 2 bytes
 * ({@link CudaBackend#slotBytes}): see Note [Integer tensors in float slots] in {@link CudaBackend}.
 */
public record CudaView(CudaBuffer buffer, long byteOffset, TensorSpec spec) implements View {
    /** The device address of element 0. */
    public long address() {
        return buffer.address() + byteOffset;
    }

    /** Elements ({@link CudaBackend#slotBytes} bytes each). */
    public long numel() {
        return spec.shape().numel();
    }
}
