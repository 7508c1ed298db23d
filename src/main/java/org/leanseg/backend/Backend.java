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
     * One arena of {@code bytes} whose smallest element has {@code minElementBytes} (2 when it holds
     * 16-bit values): a backend whose memory is not byte-addressed (the reference backend keeps each
     * element in a float slot) sizes its slots by it; byte-addressed ones ignore it.
     */
    default Buffer allocate(long bytes, int minElementBytes) {
        return allocate(bytes);
    }

    /**
     * Frees one buffer of this backend now rather than at close (an executor closing before its
     * backend, e.g. an evaluation graph evicted from a cache); a no-op where memory is garbage
     * collected.
     */
    default void free(Buffer buffer) {
    }

    /**
     * One line on how this backend computes with activations of 16-bit type {@code activations}
     * beyond what the op table says (Note [Mixed precision]), for the training log; null when there
     * is nothing to add.
     */
    default String sixteenBitNote(org.leanseg.tensor.DType activations) {
        return null;
    }

    /**
     * Copies {@code src} into {@code dst}, a view of the same shape, converting between the float types
     * (float32, bfloat16, binary16): into 16 bits rounded to nearest-even as {@code tensor.Half}, out of them
     * exact. In the backend's order of work (Note [Widened 16-bit runs] in ops/Ops). This default goes
     * through a host copy; a device backend converts on the device.
     */
    default void convert(View src, View dst) {
        Tensor t = new Tensor(src.spec(), new float[src.spec().shape().size()]);
        download(src, t);
        upload(new Tensor(dst.spec(), t.data()), dst);
    }

    /**
     * A buffer of at least {@code bytes} for one op's float32 copies of its 16-bit views (Note [Widened
     * 16-bit runs] in ops/Ops), valid until {@link #releaseWidenScratch}; the op's kernel may then still ask
     * for up to {@code kernelWorkspaceBytes} of its own workspace without moving it. The default allocates
     * an arena (one that may hold 16-bit values).
     */
    default Buffer widenScratch(long bytes, long kernelWorkspaceBytes) {
        return allocate(bytes, 2);
    }

    /** Gives back a {@link #widenScratch} buffer once its op has run. */
    default void releaseWidenScratch(Buffer scratch) {
        free(scratch);
    }

    /** A typed window into a buffer. */
    View view(Buffer buffer, long byteOffset, TensorSpec spec);

    /** A buffer holding a persistent host tensor (the reference backend shares its array). */
    Buffer adopt(Tensor host);

    void upload(Tensor src, View dst);

    /** A host tensor on its way to the device ahead of the step that reads it: see {@link #prefetch}. */
    interface Prefetched {
    }

    /** The host-side {@link Prefetched}: a copy of the values, placed by a plain {@link #upload(Tensor, View)}. */
    record HostCopy(Tensor values) implements Prefetched {
    }

    /**
     * Starts moving {@code src} towards the device now, to be placed into a view later by
     * {@link #upload(Prefetched, View)}: the next batch while the current step runs. The values are
     * taken at this call. CUDA copies them into pinned host memory and on to the device on a second
     * stream, so the transfer overlaps the compute stream's work; a host backend keeps a copy.
     */
    default Prefetched prefetch(Tensor src) {
        return new HostCopy(src.copy());
    }

    /** Places a prefetched tensor into {@code dst}, ordered after its transfer and before what follows on the device. */
    default void upload(Prefetched p, View dst) {
        upload(((HostCopy) p).values(), dst);
    }

    /** Gives up a prefetched tensor that will not be uploaded (its buffers are reused). */
    default void discard(Prefetched p) {
    }

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
    /**
     * Device bytes a step takes beyond its plan at most (scratch of our kernels, constants, allocation rounding): what
     * a budget must leave free besides the planned peak. 0 where nothing is allocated outside the plan.
     */
    default long unplannedAllowanceBytes() {
        return 0;
    }

    default DeviceMemory deviceMemory() {
        return null;
    }

    /**
     * Device-specific lines for reports ({@code profile}): on cuda, the memory in use on the card when the
     * backend started (the CUDA context and libraries, reported apart from the plan) and the cuDNN
     * algorithms chosen so far with their workspace. Empty elsewhere.
     */
    default java.util.List<String> deviceReport() {
        return java.util.List.of();
    }

    /** A captured training step (Note [Whole-step graphs] in exec.Executor): its kernels replayed with the same arguments. */
    interface StepGraph extends AutoCloseable {
        /** Replays the captured kernels on the backend's stream (asynchronous, as the eager launches were). */
        void launch();

        @Override
        void close();
    }

    /**
     * Captures the kernels {@code enqueue} launches as one graph without running them, or returns null
     * (nothing ran) where the backend cannot: every backend but cuda, and cuda with
     * {@code train.cuda_graphs: false} or a failed capture.
     */
    default StepGraph captureStep(Runnable enqueue) {
        return null;
    }

    /**
     * Checks a step leaves on the device for after it (a kernel's error slot, read once the step is done,
     * so that no op synchronises inside the step: Note [Whole-step graphs]); throws the first failure.
     */
    default void afterStep() {
    }

    /** Why {@link #captureStep} gave no graph (the last time, where it can capture at all). */
    default String stepGraphsOff() {
        return "the " + name() + " backend runs its ops from Java (no graphs)";
    }

    /**
     * The device's peak memory bandwidth in bytes per second, what {@code profile} rates each op's
     * achieved bandwidth against; 0 where it is not known (host backends).
     */
    default double peakBandwidthBytesPerSecond() {
        return 0;
    }

    /**
     * What a new allocation could take now, for sizing inference: the device's free memory where
     * the driver reports it, else the Java heap's headroom (a backend whose arenas are native host
     * memory overrides this with {@link FreeMemory#host()}).
     */
    default FreeMemory freeMemory() {
        DeviceMemory d = deviceMemory();
        return d != null ? FreeMemory.of(d) : FreeMemory.heap();
    }

    @Override
    void close();
}
