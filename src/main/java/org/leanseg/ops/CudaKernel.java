package org.leanseg.ops;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;

/**
 * A CUDA kernel binding for op type {@code O}: enqueues the op on the backend's stream (our kernels
 * or cuDNN), reading {@code in} and writing {@code out}. Listed in the {@code cuda} column of {@link Ops}.
 */
@FunctionalInterface
public interface CudaKernel<O extends Op> {
    void run(O op, CudaBackend gpu, CudaView[] in, CudaView[] out);
}
