package org.leanseg.backend.reference;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Set;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Buffer;
import org.leanseg.backend.View;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The pure-Java backend every other kernel is checked against. Byte offsets must be 4-aligned
 * (2-aligned in an arena of 16-bit slots, {@link #allocate(long, int)}). 16-bit values are emulated:
 * float slots rounded on every store (uploads here, kernel outputs in the op table's reference
 * cells), Note [Mixed precision] in tensor/Precision.
 *
 * <p>Memory counters (PyTorch allocator names): arenas it allocates and host arrays it adopts
 * (persistent variables, counted once each) are {@link #currentBytes() current}; a kernel run
 * through {@link #run} adds its measured heap scratch ({@link ScratchMeter}) for as long as it
 * runs, and {@link #peakBytes() peak} is the most of arenas + variables + one op's scratch seen.
 * Nothing is freed before close: arrays are garbage collected with their last view.
 *
 * <pre>{@code
 * ReferenceBackend b = new ReferenceBackend();
 * Buffer arena = b.allocate(1 << 20);
 * b.run(() -> Ops.runReference(op, in, out));
 * b.peakBytes();   // 1 MiB + the op's scratch
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ReferenceBackendMemoryTest}.
 */
public final class ReferenceBackend implements Backend {
    private final Set<float[]> adopted = Collections.newSetFromMap(new IdentityHashMap<>());
    /** Note [Whole-step graphs]: whether {@link #captureStep} emulates capture; the kernels being recorded, or null. */
    private final boolean emulateStepGraphs;
    private java.util.List<Runnable> recording;
    private long arenaBytes;
    private long variableBytes;
    private long lastScratchBytes;
    private long peakScratchBytes;
    private long peakBytes;

    /** The reference backend: kernels run as they are called; no step graphs. */
    public ReferenceBackend() {
        this(false);
    }

    private ReferenceBackend(boolean emulateStepGraphs) {
        this.emulateStepGraphs = emulateStepGraphs;
    }

    /**
     * A reference backend that emulates whole-step capture (Note [Whole-step graphs] in exec.Executor), so
     * that CI checks the executor's bookkeeping without a GPU: while capturing, {@link #run} records each
     * kernel instead of running it (as a captured stream enqueues without executing), and the graph's
     * launch runs the recorded kernels on the same views.
     */
    public static ReferenceBackend withStepGraphEmulation() {
        return new ReferenceBackend(true);
    }

    @Override
    public StepGraph captureStep(Runnable enqueue) {
        if (!emulateStepGraphs) {
            return null;
        }
        java.util.List<Runnable> kernels = new java.util.ArrayList<>();
        recording = kernels;
        try {
            enqueue.run();
        } finally {
            recording = null;
        }
        return new StepGraph() {
            @Override
            public void launch() {
                kernels.forEach(ReferenceBackend.this::run);
            }

            @Override
            public void close() {
                kernels.clear();
            }
        };
    }

    /** Kernels recorded by the emulated capture so far (tests), 0 outside it. */
    public int recordingSize() {
        return recording == null ? 0 : recording.size();
    }

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public Buffer allocate(long bytes) {
        return allocate(bytes, 4);
    }

    /**
     * An arena of float slots of {@code minElementBytes < 4 ? 2 : 4} planned bytes each
     * ({@link RefBuffer}): a plan holding 16-bit values takes {@code 2 * bytes} of heap here, the
     * price of emulating 16-bit storage in float slots; {@link #arenaBytes()} counts that heap.
     */
    @Override
    public synchronized Buffer allocate(long bytes, int minElementBytes) {
        int slot = minElementBytes < 4 ? 2 : 4;
        long floats = (bytes + slot - 1) / slot;
        if (floats > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("reference arena of " + bytes + " bytes exceeds one Java array (8 GiB)");
        }
        arenaBytes += 4 * floats;
        peakBytes = Math.max(peakBytes, currentBytes());
        return new RefBuffer(new float[(int) floats], slot);
    }

    @Override
    public View view(Buffer buffer, long byteOffset, TensorSpec spec) {
        RefBuffer b = (RefBuffer) buffer;
        if (byteOffset % b.slotBytes() != 0) {
            throw new IllegalArgumentException("unaligned offset " + byteOffset);
        }
        if (spec.dtype().isHalf() && b.slotBytes() > 2) {
            throw new IllegalArgumentException("view " + spec + " in a buffer of " + b.slotBytes()
                    + "-byte slots: an arena holding 16-bit values is allocated with allocate(bytes, 2)");
        }
        long end = byteOffset / b.slotBytes() + spec.shape().numel();
        if (end > b.data().length) {
            throw new IllegalArgumentException("view " + spec + " at " + byteOffset + " overruns buffer of " + b.bytes() + " bytes");
        }
        return new RefView(b.data(), (int) (byteOffset / b.slotBytes()), spec);
    }

    @Override
    public synchronized Buffer adopt(Tensor host) {
        if (adopted.add(host.data())) {
            variableBytes += 4L * host.data().length;
            peakBytes = Math.max(peakBytes, currentBytes());
        }
        return new RefBuffer(host.data());
    }

    /** Runs one kernel, measuring the heap scratch it allocates into {@link #peakBytes()} (while capturing: records it). */
    public void run(Runnable kernel) {
        if (recording != null) {
            recording.add(kernel);
            return;
        }
        long scratch = ScratchMeter.measure(kernel);
        synchronized (this) {
            lastScratchBytes = Math.max(0, scratch);
            peakScratchBytes = Math.max(peakScratchBytes, lastScratchBytes);
            peakBytes = Math.max(peakBytes, currentBytes() + lastScratchBytes);
        }
    }

    @Override
    public void upload(Tensor src, View dst) {
        RefView v = (RefView) dst;
        System.arraycopy(src.data(), 0, v.data(), v.offset(), v.size());
        v.roundToStorage();
    }

    @Override
    public void download(View src, Tensor dst) {
        RefView v = (RefView) src;
        if (v.data() != dst.data()) {
            System.arraycopy(v.data(), v.offset(), dst.data(), 0, v.size());
        }
    }

    @Override
    public void synchronize() {
        // kernels run synchronously on the calling thread and the common pool
    }

    /** Arenas and adopted variables: what this backend holds between kernels. */
    @Override
    public synchronized long currentBytes() {
        return arenaBytes + variableBytes;
    }

    /** The most of {@link #currentBytes()} plus one running kernel's scratch. */
    @Override
    public synchronized long peakBytes() {
        return peakBytes;
    }

    /** Bytes of all arenas allocated. */
    public synchronized long arenaBytes() {
        return arenaBytes;
    }

    /** Bytes of the distinct host arrays adopted (persistent variables). */
    public synchronized long variableBytes() {
        return variableBytes;
    }

    /** Heap scratch of the last kernel {@link #run}, and the most of any. */
    public synchronized long lastScratchBytes() {
        return lastScratchBytes;
    }

    public synchronized long peakScratchBytes() {
        return peakScratchBytes;
    }

    @Override
    public void close() {
        // arrays are garbage collected
    }
}
