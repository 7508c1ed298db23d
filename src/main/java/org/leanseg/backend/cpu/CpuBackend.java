package org.leanseg.backend.cpu;

import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Buffer;
import org.leanseg.backend.FreeMemory;
import org.leanseg.backend.View;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The fast CPU backend: arenas and variables in native memory (64-byte aligned, allocated once per
 * plan, as on CUDA), convolutions through oneDNN and every other op through our native kernels on
 * that same memory ({@link CpuNative}). Kernels run synchronously on the caller's thread and the
 * OpenMP team oneDNN uses ({@code -Dleanseg.threads=N}, default: the cores).
 *
 * <p>Note [cpu workspace]: scratch memory an op needs beyond its inputs and outputs (oneDNN's
 * scratchpad, which is user-managed here, the reorders of tensors into and out of the blocked
 * layouts oneDNN prefers, the activated input of a fused ReLU·depthwise convolution) is one buffer
 * of {@link #workspace(long)}, sized by the same functions the plan's workspace comes from
 * ({@code Ops} table: a kernel's workspace for its input specs). So nothing is hidden: the planned
 * peak counts it, and {@link #peakBytes()} shows it.
 *
 * <p>Memory counters (PyTorch's allocator names): {@link #currentBytes()} is what is allocated now
 * (arenas, variables, the workspace), {@link #peakBytes()} the most at once, both counted as the
 * native allocations happen.
 *
 * <pre>{@code
 * try (CpuBackend cpu = new CpuBackend();
 *      Executor ex = new Executor(graph, cpu, store)) {
 *     ex.run(feeds);
 * }
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=CpuOpsParityTest}.
 */
public final class CpuBackend implements Backend {
    private final Map<Long, CpuBuffer> live = new LinkedHashMap<>();
    private final Map<Tensor, CpuBuffer> adopted = new IdentityHashMap<>();
    private CpuBuffer workspace;
    private long currentBytes;
    private long peakBytes;
    private long peakWorkspaceBytes;
    private boolean closed;

    public CpuBackend() {
        String why = CpuNative.unavailableReason();
        if (why != null) {
            throw new IllegalStateException("cpu backend unavailable: " + why);
        }
        CpuNative.setThreads(Parallel.threads());
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public synchronized Buffer allocate(long bytes) {
        return malloc(bytes, "arena");
    }

    private CpuBuffer malloc(long bytes, String label) {
        checkOpen();
        long address = CpuNative.malloc(Math.max(bytes, 4));
        CpuBuffer b = new CpuBuffer(address, bytes, label);
        live.put(address, b);
        currentBytes += bytes;
        peakBytes = Math.max(peakBytes, currentBytes);
        return b;
    }

    @Override
    public synchronized void free(Buffer buffer) {
        CpuBuffer b = (CpuBuffer) buffer;
        if (live.remove(b.address()) != null) {
            CpuNative.free(b.address());
            currentBytes -= b.bytes();
        }
    }

    @Override
    public View view(Buffer buffer, long byteOffset, TensorSpec spec) {
        CpuBuffer b = (CpuBuffer) buffer;
        if (byteOffset % Math.min(4, spec.dtype().bytes()) != 0) {
            throw new IllegalArgumentException("unaligned offset " + byteOffset);
        }
        if (byteOffset + slotBytes(spec) * spec.shape().numel() > b.bytes()) {
            throw new IllegalArgumentException("view " + spec + " at " + byteOffset + " overruns " + b.label() + " of " + b.bytes() + " bytes");
        }
        return new CpuView(b.address() + byteOffset, spec);
    }

    /** Which way the 16-bit convolutions run on this CPU (Note [cpu 16-bit convolutions] in src/main/cpp/cpu/conv.cpp). */
    @Override
    public String sixteenBitNote(DType activations) {
        return activations.isHalf() ? CpuNative.sixteenBitConvolutions(activations) : null;
    }

    /** Bytes per element here: 2 for 16-bit floats, 4 for every other type (integers are exact floats, as on the reference backend). */
    private static long slotBytes(TensorSpec spec) {
        return spec.dtype().isHalf() ? 2 : 4;
    }

    /** Copies a host tensor into native memory once; the same tensor gets the same buffer afterwards. */
    @Override
    public synchronized Buffer adopt(Tensor host) {
        CpuBuffer b = adopted.get(host);
        if (b == null) {
            b = malloc(4L * host.data().length, "variable " + host.spec());
            adopted.put(host, b);
            upload(host, view(b, 0, host.spec()));
        }
        return b;
    }

    @Override
    public void upload(Tensor src, View dst) {
        CpuView v = (CpuView) dst;
        if (src.data().length != v.numel()) {
            throw new IllegalArgumentException("upload of " + src.spec() + " into view " + v.spec());
        }
        if (v.spec().dtype().isHalf()) {
            CpuNative.copyIn16(src.data(), 0, v.address(), v.numel(), v.spec().dtype() == DType.F16); // rounds on store
        } else {
            CpuNative.copyIn(src.data(), 0, v.address(), v.numel());
        }
    }

    @Override
    public void download(View src, Tensor dst) {
        CpuView v = (CpuView) src;
        if (dst.data().length != v.numel()) {
            throw new IllegalArgumentException("download of view " + v.spec() + " into " + dst.spec());
        }
        if (v.spec().dtype().isHalf()) {
            CpuNative.copyOut16(v.address(), dst.data(), 0, v.numel(), v.spec().dtype() == DType.F16);
        } else {
            CpuNative.copyOut(v.address(), dst.data(), 0, v.numel());
        }
    }

    @Override
    public void synchronize() {
        // kernels run synchronously
    }

    /**
     * The address of a scratch buffer of at least {@code bytes} for the op now running (Note [cpu
     * workspace]); it grows to the largest request and is kept until close.
     */
    public synchronized long workspace(long bytes) {
        if (bytes <= 0) {
            return 0;
        }
        if (workspace == null || workspace.bytes() < bytes) {
            if (workspace != null) {
                free(workspace);
            }
            workspace = malloc(bytes, "workspace");
            peakWorkspaceBytes = Math.max(peakWorkspaceBytes, bytes);
        }
        return workspace.address();
    }

    /** The largest workspace requested so far. */
    public synchronized long peakWorkspaceBytes() {
        return peakWorkspaceBytes;
    }

    /** Bytes of the arenas allocated and not freed, counted as they are allocated. */
    public synchronized long arenaBytes() {
        long sum = 0;
        for (CpuBuffer b : live.values()) {
            if (b.label().equals("arena")) {
                sum += b.bytes();
            }
        }
        return sum;
    }

    /** Bytes of the variables adopted so far (weights, optimizer state, BN buffers). */
    public synchronized long variableBytes() {
        long sum = 0;
        for (CpuBuffer b : adopted.values()) {
            sum += b.bytes();
        }
        return sum;
    }

    @Override
    public synchronized long currentBytes() {
        return currentBytes;
    }

    @Override
    public synchronized long peakBytes() {
        return peakBytes;
    }

    /** Arenas here are native host memory: what the host has available. */
    @Override
    public FreeMemory freeMemory() {
        return FreeMemory.host();
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("cpu backend is closed");
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            for (CpuBuffer b : live.values()) {
                CpuNative.free(b.address());
            }
            live.clear();
            adopted.clear();
            workspace = null;
            currentBytes = 0;
        }
    }
}
