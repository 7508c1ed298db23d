package org.leanseg.backend;

import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The small contract every device implements: arenas, views into them, copies in and out, and
 * synchronisation. Running ops is the job of the kernels listed in the op table, which receive
 * views of this backend. A backend knows nothing of ops, graphs or plans.
 */
public interface Backend extends AutoCloseable {
    /** "reference" or "cuda". */
    String name();

    /** One arena of {@code bytes}; freed on close. */
    Buffer allocate(long bytes);

    /**
     * Frees one buffer of this backend now rather than at close (an executor closing before its
     * backend, e.g. an evaluation graph evicted from a cache); a no-op where memory is garbage
     * collected.
     */
    default void free(Buffer buffer) {
    }

    /** A typed window into a buffer. */
    View view(Buffer buffer, long byteOffset, TensorSpec spec);

    /** A buffer holding a persistent host tensor (the reference backend shares its array). */
    Buffer adopt(Tensor host);

    void upload(Tensor src, View dst);

    void download(View src, Tensor dst);

    void synchronize();

    /** Bytes this backend holds now: arenas, adopted variables and any workspace it keeps. */
    long currentBytes();

    /** The most bytes it has held at once, kernels' scratch included where the backend can see it. */
    long peakBytes();

    /**
     * The device's free and total memory as its driver reports them now (CUDA: cudaMemGetInfo), or
     * null for a backend on the host.
     */
    default DeviceMemory deviceMemory() {
        return null;
    }

    @Override
    void close();
}
