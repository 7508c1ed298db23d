package org.leanseg.backend.cuda;

import static org.bytedeco.cuda.global.cudart.cudaEventCreate;
import static org.bytedeco.cuda.global.cudart.cudaEventCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaEventDestroy;
import static org.bytedeco.cuda.global.cudart.cudaEventDisableTiming;
import static org.bytedeco.cuda.global.cudart.cudaEventElapsedTime;
import static org.bytedeco.cuda.global.cudart.cudaEventRecord;
import static org.bytedeco.cuda.global.cudart.cudaEventSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaFree;
import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMalloc;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;
import static org.bytedeco.cuda.global.cudart.cudaMemGetInfo;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyAsync;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyDeviceToHost;
import static org.bytedeco.cuda.global.cudart.cudaMemcpyHostToDevice;
import static org.bytedeco.cuda.global.cudart.cudaMemsetAsync;
import static org.bytedeco.cuda.global.cudart.cudaSetDevice;
import static org.bytedeco.cuda.global.cudart.cudaStreamCreateWithFlags;
import static org.bytedeco.cuda.global.cudart.cudaStreamDestroy;
import static org.bytedeco.cuda.global.cudart.cudaStreamNonBlocking;
import static org.bytedeco.cuda.global.cudart.cudaStreamSynchronize;
import static org.bytedeco.cuda.global.cudart.cudaStreamWaitEvent;

import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.leanseg.backend.Backend;
import org.leanseg.backend.Buffer;
import org.leanseg.backend.DeviceMemory;
import org.leanseg.backend.View;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The CUDA backend: device memory from cudaMalloc (one block per arena the executor asks for), views
 * as base address + offset, copies through a host staging buffer on one compute stream, our kernels
 * ({@link CudaKernels}) and cuDNN convolutions ({@link CudnnConvolutions}). Op bindings (the
 * {@code *Cuda} classes in ops/) call {@link #launch}, {@link #convForward} and friends.
 *
 * <pre>{@code
 * try (CudaBackend gpu = new CudaBackend(CudaBackend.Options.defaults());
 *      Executor ex = new Executor(graph, gpu, store)) {
 *     ex.run(feeds);
 *     ex.syncVariables();   // device -> host copies of weights, BN statistics, momenta
 * }
 * }</pre>
 *
 * <p>Note [Integer tensors in float slots]: like the reference backend, every dtype occupies a
 * 4-byte float slot holding the exact value (labels, argmax classes; exact below 2^24). Uploads and
 * downloads copy the float arrays unchanged, the planner's byte sizes hold, and the kernels read
 * labels as floats ({@code ls_label_class} in loss.cuh). The exception is the 16-bit float types of a
 * mixed-precision step (Note [Mixed precision]): 2 bytes an element, as the plan sizes them; uploads
 * round the floats to them as {@code tensor.Half} does, downloads widen them exactly, and {@link #convert}
 * converts on the device (kernel ls_convert_k, src/main/cuda/half.cuh).
 *
 * <p>Variables: {@link #adopt} uploads a host tensor once and returns the same device buffer for the
 * same tensor afterwards, so executors sharing a VariableStore share device variables too.
 */
public final class CudaBackend implements Backend {
    /**
     * Settings: TF32 convolutions, the cuDNN workspace limit (what the plan counts for every convolution,
     * {@link #WORKSPACE_LIMIT}), {@code deterministic} (train.deterministic): cuDNN's heuristic ranking with
     * deterministic algorithms preferred (bitwise-repeatable steps), else the fastest algorithm by
     * {@code cudnnFind*AlgorithmEx}, non-deterministic ones allowed; and {@code stepGraphs}
     * (train.cuda_graphs): whether {@link #captureStep} captures steps (Note [Whole-step graphs]).
     */
    public record Options(boolean tf32, long workspaceLimitBytes, boolean deterministic, boolean stepGraphs) {
        /** Strict float32 convolutions (CUDNN_FMA_MATH), 256 MiB workspace limit, timed algorithm choice, step graphs. */
        public static Options defaults() {
            return new Options(false, WORKSPACE_LIMIT, false, true);
        }

        /** As {@link #defaults()} with bitwise-repeatable algorithm choice (train.deterministic: true). */
        public static Options repeatable() {
            return new Options(false, WORKSPACE_LIMIT, true, true);
        }

        /** The settings of a training run: {@code train.deterministic} and {@code train.cuda_graphs}. */
        public static Options forTraining(boolean deterministic, boolean stepGraphs) {
            return new Options(false, WORKSPACE_LIMIT, deterministic, stepGraphs);
        }

        /** The same settings with whole-step graphs on or off. */
        public Options withStepGraphs(boolean on) {
            return new Options(tf32, workspaceLimitBytes, deterministic, on);
        }
    }

    /**
     * The cuDNN workspace limit: algorithms needing more are not chosen, and the memory plan counts this much
     * workspace for every convolution on the cuda device (Ops table, {@code ConvCuda.workspace}).
     */
    public static final long WORKSPACE_LIMIT = 256L << 20;

    private final Options options;
    private final CUstream_st stream = new CUstream_st();
    /** Why the last step capture gave no graph (Note [Whole-step graphs]), or null. */
    private volatile String stepGraphsOff;
    /** Checks for after the step ({@link #checkAfterStep}). */
    private final List<SlotCheck> pendingChecks = new ArrayList<>();
    /** The second stream: prefetched inputs (the next batch) go up on it while {@link #stream} computes. */
    private final CUstream_st copyStream = new CUstream_st();
    /** Prefetch slots, all of them (freed at close) and those free for the next prefetch. */
    private final List<Slot> slots = new ArrayList<>();
    private final ArrayDeque<Slot> freeSlots = new ArrayDeque<>();
    private final CudaKernels kernels;
    private final CudnnConvolutions convs;
    private final Map<Long, CudaBuffer> live = new LinkedHashMap<>();
    private final Map<Tensor, CudaBuffer> adopted = new IdentityHashMap<>();
    private final Map<String, CudaBuffer> constants = new HashMap<>();
    private BytePointer staging = new BytePointer(1L << 20);
    private CudaBuffer workspace;
    /**
     * Workspace {@link #widenScratch} leaves beside the copies at least: the cross-entropy kernels take their partial
     * sums (a few KiB) from {@link #workspace} without declaring them to the plan (within {@link #UNPLANNED_ALLOWANCE}).
     */
    static final long KERNEL_SCRATCH = 1L << 20;
    /** Bytes at the start of {@link #workspace} held by an op's float32 copies ({@link #widenScratch}). */
    private long workspaceReserved;
    private CudaBuffer normScratch;
    private CudaBuffer normTemp;
    private int normCounters;
    private long normFloatsOffset;
    private long currentBytes;
    private long peakBytes;
    private boolean closed;
    private long startUsedBytes;
    private final List<CUevent_st> timerEvents = new ArrayList<>();
    private int timerUsed;

    public CudaBackend(Options options) {
        CudaProbe.Result probe = CudaProbe.result();
        if (!probe.usable()) {
            throw new CudaException("cuda backend unavailable: " + probe.reason());
        }
        this.options = options;
        CudaStatus.check(cudaSetDevice(0), "cudaSetDevice(0)");
        CudaStatus.check(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        CudaStatus.check(cudaStreamCreateWithFlags(copyStream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags(copy)");
        this.kernels = new CudaKernels(stream);
        this.convs = new CudnnConvolutions(this, stream, options.tf32(), options.workspaceLimitBytes(), options.deterministic());
        long[] ft = memGetInfo();
        this.startUsedBytes = ft[1] - ft[0];
    }

    /**
     * Device bytes in use when this backend had started (context, cuDNN handle, kernels module loaded, before
     * any allocation of its own), per cudaMemGetInfo: the CUDA context and libraries, plus whatever other
     * processes hold on the card. Reported apart from the plan.
     */
    public long startUsedBytes() {
        return startUsedBytes;
    }

    /**
     * Note [Whole-step graphs] on the GPU: {@code enqueue}'s launches, on the compute stream in thread-local
     * capture mode, become one CUDA graph (cudaStreamBeginCapture / EndCapture / GraphInstantiate); launching
     * it replays them with the same arguments (the plan's static addresses). Null, with {@link
     * #stepGraphsOff()} saying why, when {@code train.cuda_graphs} is false or the capture failed (an op
     * synchronised, allocated or copied synchronously: capture mode refuses those); nothing of the step then
     * ran, and the caller runs it eagerly. Not yet run on a GPU (docs/gpu-results.md).
     */
    @Override
    public StepGraph captureStep(Runnable enqueue) {
        if (!options.stepGraphs()) {
            stepGraphsOff = "off (train.cuda_graphs: false)";
            return null;
        }
        CudaStatus.check(org.bytedeco.cuda.global.cudart.cudaStreamBeginCapture(stream,
                org.bytedeco.cuda.global.cudart.cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
        org.bytedeco.cuda.cudart.CUgraph_st graph = new org.bytedeco.cuda.cudart.CUgraph_st();
        RuntimeException failed = null;
        List<SlotCheck> before = List.copyOf(pendingChecks);
        pendingChecks.clear();
        try {
            enqueue.run();
        } catch (RuntimeException e) {
            failed = e;
        }
        List<SlotCheck> graphChecks = List.copyOf(pendingChecks);   // the graph's own, after each launch
        pendingChecks.clear();
        pendingChecks.addAll(before);
        int end = org.bytedeco.cuda.global.cudart.cudaStreamEndCapture(stream, graph);
        if (failed != null || end != 0) {
            stepGraphsOff = "capture failed (" + (failed != null ? failed.getMessage() : "cudaStreamEndCapture error " + end)
                    + "); ops launched one by one";
            if (end == 0) {
                org.bytedeco.cuda.global.cudart.cudaGraphDestroy(graph);
            }
            return null;
        }
        org.bytedeco.cuda.cudart.CUgraphExec_st exec = new org.bytedeco.cuda.cudart.CUgraphExec_st();
        CudaStatus.check(org.bytedeco.cuda.global.cudart.cudaGraphInstantiate(exec, graph, 0L), "cudaGraphInstantiate");
        stepGraphsOff = null;
        return new StepGraph() {
            @Override
            public void launch() {
                CudaStatus.check(org.bytedeco.cuda.global.cudart.cudaGraphLaunch(exec, stream), "cudaGraphLaunch");
                graphChecks.forEach(CudaBackend.this::checkAfterStep);
            }

            @Override
            public void close() {
                org.bytedeco.cuda.global.cudart.cudaGraphExecDestroy(exec);
                org.bytedeco.cuda.global.cudart.cudaGraphDestroy(graph);
            }
        };
    }

    /**
     * A check of an 8-byte device slot after the step: {@code failure} maps the slot's value to an error
     * message, or null when all is well (the cross-entropy's first bad label).
     */
    public record SlotCheck(long address, java.util.function.LongFunction<String> failure) {
    }

    /**
     * Registers a check for after this step ({@link #afterStep}); during capture it belongs to the graph and
     * runs after each of its launches, since the op that registered it does not run again.
     */
    public synchronized void checkAfterStep(SlotCheck check) {
        pendingChecks.add(check);
    }

    @Override
    public synchronized void afterStep() {
        List<SlotCheck> checks = List.copyOf(pendingChecks);
        pendingChecks.clear();
        for (SlotCheck c : checks) {
            String failure = c.failure().apply(readLong(c.address()));
            if (failure != null) {
                throw new IllegalArgumentException(failure);   // backend imports no ops (CODE_SHAPE.md)
            }
        }
    }

    /** Why the last {@link #captureStep} gave no graph, or null. */
    @Override
    public String stepGraphsOff() {
        return stepGraphsOff;
    }

    /**
     * Peak DRAM bandwidth from the device's attributes: 2 transfers a memory clock (DDR/HBM) x the bus
     * width; 0 when the driver does not report them. Not yet read on a GPU (docs/gpu-results.md).
     */
    @Override
    public double peakBandwidthBytesPerSecond() {
        int[] clockKhz = new int[1];
        int[] busBits = new int[1];
        if (org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute(clockKhz, org.bytedeco.cuda.global.cudart.cudaDevAttrMemoryClockRate, 0) != 0
                || org.bytedeco.cuda.global.cudart.cudaDeviceGetAttribute(busBits,
                org.bytedeco.cuda.global.cudart.cudaDevAttrGlobalMemoryBusWidth, 0) != 0) {
            return 0;
        }
        return 2.0 * clockKhz[0] * 1000.0 * busBits[0] / 8.0;
    }

    @Override
    public java.util.List<String> deviceReport() {
        java.util.List<String> lines = new ArrayList<>();
        lines.add(String.format(java.util.Locale.ROOT, "CUDA context and libraries: %.1f MiB in use on the card when the backend started"
                + " (cudaMemGetInfo; includes other processes), not part of the plan", startUsedBytes / 1048576.0));
        Map<ConvShape, ConvAlgoChoice.Algo[]> chosen = convs.chosen();
        long largest = 0;
        for (ConvAlgoChoice.Algo[] a : chosen.values()) {
            for (ConvAlgoChoice.Algo x : a) {
                largest = x == null ? largest : Math.max(largest, x.workspaceBytes());
            }
        }
        lines.add(String.format(java.util.Locale.ROOT, "cuDNN algorithms: %s; workspace limit %.1f MiB (planned), largest chosen %.1f MiB,"
                + " workspace buffer %.1f MiB; %d convolution shapes", options.deterministic()
                ? "cuDNN heuristics, deterministic preferred (train.deterministic: true)"
                : "timed once per shape by cudnnFind*AlgorithmEx, non-deterministic allowed", options.workspaceLimitBytes() / 1048576.0,
                largest / 1048576.0, workspace == null ? 0.0 : workspace.bytes() / 1048576.0, chosen.size()));
        String[] dirs = {"fwd", "bwd data", "bwd filter"};
        chosen.forEach((s, a) -> {
            StringBuilder b = new StringBuilder(String.format(java.util.Locale.ROOT, "  conv %dx%dx%dx%d -> %d k%dx%d s%d p%d d%d g%d%s:", s.n(),
                    s.cin(), s.h(), s.w(), s.cout(), s.kh(), s.kw(), s.strideH(), s.padH(), s.dilationH(), s.groups(),
                    s.dataType() == 1 ? " bf16 tensor-op" : s.dataType() == 2 ? " fp16 tensor-op" : ""));
            for (int i = 0; i < 3; i++) {
                ConvAlgoChoice.Algo x = a[i];
                if (x != null) {
                    b.append(String.format(java.util.Locale.ROOT, " %s algo %d (%s, ws %d B%s)", dirs[i], x.algo(),
                            x.deterministic() ? "deterministic" : "non-deterministic", x.workspaceBytes(),
                            x.ms() >= 0 ? String.format(java.util.Locale.ROOT, ", %.3f ms", x.ms()) : ""));
                }
            }
            lines.add(b.toString());
        });
        return lines;
    }

    @Override
    public String name() {
        return "cuda";
    }

    public Options options() {
        return options;
    }

    @Override
    public synchronized Buffer allocate(long bytes) {
        return malloc(bytes, "arena");
    }

    private CudaBuffer malloc(long bytes, String label) {
        Pointer p = new Pointer();
        long size = Math.max(bytes, 256);
        CudaStatus.check(cudaMalloc(p, size), "cudaMalloc(" + size + " B, " + label + ")");
        CudaBuffer b = new CudaBuffer(p.address(), size, label);
        live.put(b.address(), b);
        currentBytes += size;
        peakBytes = Math.max(peakBytes, currentBytes);
        return b;
    }

    /** Frees one buffer of this backend now (otherwise {@link #close} frees it). */
    @Override
    public synchronized void free(Buffer buffer) {
        CudaBuffer b = (CudaBuffer) buffer;
        if (live.remove(b.address()) != null) {
            synchronize();
            CudaStatus.check(cudaFree(new DevicePointer(b.address())), "cudaFree(" + b.label() + ")");
            currentBytes -= b.bytes();
        }
    }

    @Override
    public View view(Buffer buffer, long byteOffset, TensorSpec spec) {
        CudaBuffer b = (CudaBuffer) buffer;
        int slot = slotBytes(spec);
        long bytes = slot * spec.shape().numel();
        if (byteOffset % slot != 0 || byteOffset < 0 || byteOffset + bytes > b.bytes()) {
            throw new IllegalArgumentException("view " + spec + " at offset " + byteOffset + " does not fit " + b.label()
                    + " of " + b.bytes() + " bytes (" + slot + "-byte aligned slots)");
        }
        return new CudaView(b, byteOffset, spec);
    }

    /** Bytes an element takes here: 2 for the 16-bit float types, 4 for every other type (Note [Integer tensors in float slots]). */
    public static int slotBytes(TensorSpec spec) {
        return spec.dtype().isHalf() ? 2 : 4;
    }

    /** The storage type code of the kernels (half.cuh): 0 float32 (and integers in float slots), 1 bfloat16, 2 binary16. */
    public static int typeCode(TensorSpec spec) {
        return switch (spec.dtype()) {
            case BF16 -> 1;
            case F16 -> 2;
            default -> 0;
        };
    }

    /**
     * Converts {@code src} into {@code dst} (same shape; float32, bfloat16 or binary16 each) on the compute
     * stream with ls_convert_k: rounding to nearest-even into 16 bits, bit for bit as {@code tensor.Half}
     * (half.cuh, checked on the host by HostKernelMathTest). Same-type views are copied.
     */
    @Override
    public void convert(View src, View dst) {
        CudaView s = (CudaView) src;
        CudaView d = (CudaView) dst;
        if (s.numel() != d.numel()) {
            throw new IllegalArgumentException("convert of view " + s.spec() + " into view " + d.spec());
        }
        if (typeCode(s.spec()) == typeCode(d.spec())) {
            copyDevice(d.address(), s.address(), slotBytes(s.spec()) * s.numel());
            return;
        }
        launch("ls_convert_k", s.numel(), convertArgs(s.numel(), s.address(), typeCode(s.spec()), d.address(), typeCode(d.spec())));
    }

    /** ls_convert_k's arguments: {@code n} elements from {@code src} of type code {@code srcType} into {@code dst}. */
    static Object[] convertArgs(long n, long src, int srcType, long dst, int dstType) {
        return new Object[] {n, src, srcType, dst, dstType};
    }

    /**
     * Note [Widened 16-bit runs] on the GPU: the float32 copies live at the start of the workspace buffer and
     * {@link #workspace} hands out what follows them, so the copies and the kernel's own workspace are one region
     * of at most the op's planned workspace ({@code Ops.workspaceBytes}), as in the plan. Sized here once for
     * both, so the kernel's workspace call never moves the copies.
     */
    @Override
    public synchronized Buffer widenScratch(long bytes, long kernelWorkspaceBytes) {
        long copies = org.leanseg.memory.Planner.align(bytes);
        workspaceReserved = 0;
        workspace(copies + Math.max(kernelWorkspaceBytes, KERNEL_SCRATCH));   // also within a captured step: sized by the first, eager one
        workspaceReserved = copies;
        return new CudaBuffer(workspace.address(), copies, "float32 copies of 16-bit views");
    }

    @Override
    public synchronized void releaseWidenScratch(Buffer scratch) {
        workspaceReserved = 0;
    }

    @Override
    public synchronized Buffer adopt(Tensor host) {
        CudaBuffer b = adopted.get(host);
        if (b == null) {
            b = malloc(4L * host.data().length, "variable " + host.spec());
            adopted.put(host, b);
            upload(host, view(b, 0, host.spec()));
        }
        return b;
    }

    /** Host tensors adopted so far, with their device buffers (for syncing variables back). */
    public synchronized Map<Tensor, CudaBuffer> adopted() {
        return new IdentityHashMap<>(adopted);
    }

    @Override
    public synchronized void upload(Tensor src, View dst) {
        CudaView v = (CudaView) dst;
        if (src.data().length != v.numel()) {
            throw new IllegalArgumentException("upload of " + src.spec() + " into view " + v.spec());
        }
        long bytes = slotBytes(v.spec()) * v.numel();
        if (v.spec().dtype().isHalf()) {
            java.nio.ShortBuffer sb = stage(bytes).asByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer();
            boolean fp16 = v.spec().dtype() == org.leanseg.tensor.DType.F16;
            for (float f : src.data()) {
                sb.put(fp16 ? org.leanseg.tensor.Half.floatToHalf(f) : org.leanseg.tensor.Half.floatToBf16(f));
            }
        } else {
            stage(bytes).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer().put(src.data());
        }
        CudaStatus.check(cudaMemcpyAsync(new DevicePointer(v.address()), staging, bytes, cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync(H2D " + bytes + " B)");
        synchronize();   // the staging buffer is reused by the next copy
    }

    /**
     * One prefetch buffer pair: pinned host memory and a device buffer of {@code bytes}, with the
     * events that order its reuse. Note [Prefetch on a second stream]: {@link #prefetch} writes the
     * values into the pinned memory (after the slot's previous host-to-device copy has finished) and
     * queues the copy to the device buffer on the copy stream, behind the slot's previous consumer
     * ({@code consumed}); {@link #upload(Prefetched, View)} makes the compute stream wait for that
     * copy ({@code copied}) and copies device to device into the arena, then records
     * {@code consumed}. Neither call waits for the device, so the transfer of batch k+1 overlaps
     * step k, and the arena slot is written only when the compute stream gets there.
     */
    private static final class Slot implements Prefetched {
        final long bytes;
        final Pointer pinned = new Pointer();
        final CudaBuffer device;
        final CUevent_st copied = new CUevent_st();
        final CUevent_st consumed = new CUevent_st();
        long numel;

        Slot(long bytes, CudaBuffer device) {
            this.bytes = bytes;
            this.device = device;
        }
    }

    @Override
    public synchronized Prefetched prefetch(Tensor src) {
        long bytes = 4L * src.data().length;
        Slot slot = freeSlot(bytes);
        // the slot's previous host-to-device copy must be done before its pinned memory is rewritten
        CudaStatus.check(cudaEventSynchronize(slot.copied), "cudaEventSynchronize(prefetch copied)");
        new BytePointer(slot.pinned).capacity(bytes).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer().put(src.data());
        slot.numel = src.data().length;
        // and its device buffer must have been read by its previous consumer on the compute stream
        CudaStatus.check(cudaStreamWaitEvent(copyStream, slot.consumed, 0), "cudaStreamWaitEvent(copy stream)");
        CudaStatus.check(cudaMemcpyAsync(new DevicePointer(slot.device.address()), slot.pinned, bytes, cudaMemcpyHostToDevice, copyStream),
                "cudaMemcpyAsync(H2D prefetch " + bytes + " B)");
        CudaStatus.check(cudaEventRecord(slot.copied, copyStream), "cudaEventRecord(prefetch copied)");
        return slot;
    }

    /** A free slot of at least {@code bytes}, or a new one (pinned host + device memory, two events). */
    private Slot freeSlot(long bytes) {
        for (java.util.Iterator<Slot> it = freeSlots.iterator(); it.hasNext(); ) {
            Slot s = it.next();
            if (s.bytes >= bytes) {
                it.remove();
                return s;
            }
        }
        Slot s = new Slot(bytes, malloc(bytes, "prefetch"));
        CudaStatus.check(cudaMallocHost(s.pinned, bytes), "cudaMallocHost(" + bytes + " B, prefetch)");
        CudaStatus.check(cudaEventCreateWithFlags(s.copied, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        CudaStatus.check(cudaEventCreateWithFlags(s.consumed, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        slots.add(s);
        return s;
    }

    @Override
    public synchronized void upload(Prefetched p, View dst) {
        Slot slot = (Slot) p;
        CudaView v = (CudaView) dst;
        if (slot.numel != v.numel()) {
            throw new IllegalArgumentException("upload of a prefetched tensor of " + slot.numel + " values into view " + v.spec());
        }
        CudaStatus.check(cudaStreamWaitEvent(stream, slot.copied, 0), "cudaStreamWaitEvent(compute stream)");
        if (v.spec().dtype().isHalf()) {   // the prefetched floats, rounded into the 16-bit view on the device
            launch("ls_convert_k", slot.numel, convertArgs(slot.numel, slot.device.address(), 0, v.address(), typeCode(v.spec())));
        } else {
            CudaStatus.check(cudaMemcpyAsync(new DevicePointer(v.address()), new DevicePointer(slot.device.address()), 4L * slot.numel,
                    cudaMemcpyDeviceToDevice, stream), "cudaMemcpyAsync(D2D prefetched " + 4L * slot.numel + " B)");
        }
        CudaStatus.check(cudaEventRecord(slot.consumed, stream), "cudaEventRecord(prefetch consumed)");
        freeSlots.add(slot);
    }

    @Override
    public synchronized void discard(Prefetched p) {
        freeSlots.add((Slot) p);
    }

    @Override
    public synchronized void download(View src, Tensor dst) {
        CudaView v = (CudaView) src;
        long bytes = slotBytes(v.spec()) * v.numel();
        if (dst.data().length != v.numel()) {
            throw new IllegalArgumentException("download of view " + v.spec() + " into " + dst.spec());
        }
        stage(bytes);
        CudaStatus.check(cudaMemcpyAsync(staging, new DevicePointer(v.address()), bytes, cudaMemcpyDeviceToHost, stream),
                "cudaMemcpyAsync(D2H " + bytes + " B)");
        synchronize();
        if (v.spec().dtype().isHalf()) {
            java.nio.ShortBuffer sb = staging.asByteBuffer().order(ByteOrder.nativeOrder()).asShortBuffer();
            float[] d = dst.data();
            boolean fp16 = v.spec().dtype() == org.leanseg.tensor.DType.F16;
            for (int i = 0; i < d.length; i++) {
                short h = sb.get(i);
                d[i] = fp16 ? org.leanseg.tensor.Half.halfToFloat(h) : org.leanseg.tensor.Half.bf16ToFloat(h);
            }
        } else {
            staging.asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer().get(dst.data());
        }
    }

    private BytePointer stage(long bytes) {
        if (staging.capacity() < bytes) {
            staging.close();
            staging = new BytePointer(Math.max(bytes, 2 * staging.capacity()));
        }
        staging.limit(bytes);
        return staging;
    }

    /** Reads one 8-byte value at a device address (a kernel's error slot). Synchronizes. */
    public synchronized long readLong(long address) {
        stage(8);
        CudaStatus.check(cudaMemcpyAsync(staging, new DevicePointer(address), 8, cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync(D2H 8 B)");
        synchronize();
        return staging.getLong(0);
    }

    /** Sets {@code bytes} at {@code address} to {@code value} (each byte), on the stream. */
    public void memset(long address, int value, long bytes) {
        CudaStatus.check(cudaMemsetAsync(new DevicePointer(address), value, bytes, stream), "cudaMemsetAsync(" + bytes + " B)");
    }

    @Override
    public void synchronize() {
        CudaStatus.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    /**
     * Scratch device memory of at least {@code bytes} for the op now running (cuDNN workspace, kernel
     * partial sums); valid until the next call. Grows on demand. Not part of the memory plan yet.
     */
    public synchronized long workspace(long bytes) {
        long need = workspaceReserved + bytes;
        if (workspace == null || workspace.bytes() < need) {
            if (workspaceReserved > 0) {   // widenScratch sized it for its op: a kernel asked for more than it declared
                throw new IllegalStateException("a kernel asked for " + bytes + " B of workspace beside " + workspaceReserved
                        + " B of float32 copies, more than its cell declared (Note [Widened 16-bit runs])");
            }
            if (workspace != null) {
                free(workspace);
            }
            workspace = malloc(Math.max(need, 1L << 20), "workspace");
        }
        return workspace.address() + workspaceReserved;
    }

    /** A device copy of constant floats (class weights), cached by content. */
    public synchronized long constant(float[] values) {
        String key = Arrays.toString(values);
        CudaBuffer b = constants.get(key);
        if (b == null) {
            b = malloc(4L * values.length, "constant");
            upload(Tensor.of(org.leanseg.tensor.Shape.of(values.length), values.clone()), view(b, 0, TensorSpec.f32(values.length)));
            constants.put(key, b);
        }
        return b.address();
    }

    /** Launches a grid-stride kernel over {@code n} items; {@code args} as {@link CudaKernels#launch}. */
    public void launch(String kernel, long n, Object... args) {
        kernels.launch(kernel, CudaKernels.grid(n), CudaKernels.BLOCK, args);
    }

    /** Launches {@code blocks} blocks of {@link CudaKernels#BLOCK} threads (reductions: one block per channel/plane). */
    public void launchBlocks(String kernel, int blocks, Object... args) {
        kernels.launch(kernel, blocks, CudaKernels.BLOCK, args);
    }

    /** Launches {@code blocksX x blocksY} blocks of {@code threads} threads. */
    public void launchGrid(String kernel, int blocksX, int blocksY, int threads, Object... args) {
        kernels.launch(kernel, blocksX, blocksY, threads, args);
    }

    /**
     * The norm reductions' scratch (Note [Two-level norm reductions] in norm.cuh): {@code counters} unsigned
     * counters at the returned address, which the kernels leave at 0 (zeroed once when the buffer is made), then
     * room for {@code partialFloats} floats at {@code address + normFloatsOffset()}. Grows on demand; valid until
     * the next call. Outside the memory plan: 2 floats per block of a reduction, a few MiB at most.
     */
    public synchronized long normScratch(int counters, long partialFloats) {
        int c = Math.max(counters, normCounters);
        long offset = org.leanseg.memory.Planner.align(4L * c);
        long need = offset + 4 * partialFloats;
        if (normScratch == null || counters > normCounters || need > normScratch.bytes()) {
            long bytes = Math.max(need, normScratch == null ? 0 : offset + normScratch.bytes() - normFloatsOffset);
            if (normScratch != null) {
                free(normScratch);
            }
            normScratch = malloc(bytes, "norm scratch");
            memset(normScratch.address(), 0, normScratch.bytes());
            normCounters = c;
            normFloatsOffset = offset;
        }
        return normScratch.address();
    }

    /** Byte offset of the partial sums in {@link #normScratch}. */
    public synchronized long normFloatsOffset() {
        return normFloatsOffset;
    }

    /** Device room for {@code floats} floats, an op's temporaries (group norm backward's plane sums); grows on demand. */
    public synchronized long normTemp(long floats) {
        if (normTemp == null || normTemp.bytes() < 4 * floats) {
            if (normTemp != null) {
                free(normTemp);
            }
            normTemp = malloc(4 * floats, "norm temporaries");
        }
        return normTemp.address();
    }

    public void convForward(ConvShape s, long x, long w, long y) {
        convs.forward(s, x, w, y);
    }

    public void convBackwardData(ConvShape s, long dy, long w, long dx) {
        convs.backwardData(s, dy, w, dx);
    }

    public void convBackwardFilter(ConvShape s, long x, long dy, long dw) {
        convs.backwardFilter(s, x, dy, dw, false);
    }

    /** dw += the filter gradient of {@code s} (after a first, overwriting call of the same shape chose its algorithm). */
    public void convBackwardFilterAccumulate(ConvShape s, long x, long dy, long dw) {
        convs.backwardFilter(s, x, dy, dw, true);
    }

    /**
     * Milliseconds of device time {@code work} takes per call, averaged over {@code reps} calls, by CUDA events
     * recorded on the compute stream around all of them (one synchronisation at the end). For benchmarks.
     */
    public double deviceMs(Runnable work, int reps) {
        CUevent_st start = new CUevent_st();
        CUevent_st stop = new CUevent_st();
        CudaStatus.check(cudaEventCreate(start), "cudaEventCreate");
        CudaStatus.check(cudaEventCreate(stop), "cudaEventCreate");
        try {
            CudaStatus.check(cudaEventRecord(start, stream), "cudaEventRecord(start)");
            for (int i = 0; i < reps; i++) {
                work.run();
            }
            CudaStatus.check(cudaEventRecord(stop, stream), "cudaEventRecord(stop)");
            CudaStatus.check(cudaEventSynchronize(stop), "cudaEventSynchronize(stop)");
            float[] ms = new float[1];
            CudaStatus.check(cudaEventElapsedTime(ms, start, stop), "cudaEventElapsedTime");
            return ms[0] / reps;
        } finally {
            cudaEventDestroy(start);
            cudaEventDestroy(stop);
        }
    }

    /**
     * Per-op device timing (Note [Op timing by events]): {@link #startOpTimer} records a CUDA event on the
     * compute stream, {@link #markOp} one more after each op, neither waits for the device; after the step's
     * synchronisation {@link #readOpTimes} returns the milliseconds between consecutive events, one per op:
     * the device time from the end of the previous op's work to the end of this one's (it includes the
     * device's idle time waiting for the host's launches, which is what a launch-bound step costs).
     */
    public synchronized void startOpTimer() {
        timerUsed = 0;
        markOp();
    }

    /** Records the next timing event on the compute stream (no host synchronisation). */
    public synchronized void markOp() {
        if (timerUsed == timerEvents.size()) {
            CUevent_st e = new CUevent_st();
            CudaStatus.check(cudaEventCreate(e), "cudaEventCreate(op timer)");
            timerEvents.add(e);
        }
        CudaStatus.check(cudaEventRecord(timerEvents.get(timerUsed), stream), "cudaEventRecord(op timer)");
        timerUsed++;
    }

    /** Milliseconds between consecutive timing events since {@link #startOpTimer}; waits for the last event. */
    public synchronized float[] readOpTimes() {
        if (timerUsed == 0) {
            return new float[0];
        }
        CudaStatus.check(cudaEventSynchronize(timerEvents.get(timerUsed - 1)), "cudaEventSynchronize(op timer)");
        float[] ms = new float[timerUsed - 1];
        float[] one = new float[1];
        for (int i = 1; i < timerUsed; i++) {
            CudaStatus.check(cudaEventElapsedTime(one, timerEvents.get(i - 1), timerEvents.get(i)), "cudaEventElapsedTime(op timer)");
            ms[i - 1] = one[0];
        }
        return ms;
    }

    /** Copies {@code bytes} device to device on the compute stream (benchmarks: the copy bandwidth). */
    public void copyDevice(long dst, long src, long bytes) {
        CudaStatus.check(cudaMemcpyAsync(new DevicePointer(dst), new DevicePointer(src), bytes, cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync(D2D " + bytes + " B)");
    }

    /** Bytes this backend holds now and at most (arenas, variables, workspace, constants). */
    @Override
    public synchronized long currentBytes() {
        return currentBytes;
    }

    @Override
    public synchronized long peakBytes() {
        return peakBytes;
    }

    /**
     * Device bytes outside the plan a step may take (norm and loss scratch, constants, cudaMalloc rounding of separately
     * allocated variables, cuDNN's lazy allocations): the allowance CudaProfileTest's bound states, and what
     * train.batch=auto leaves free besides the planned peak (StepMemory.deviceBudget).
     */
    public static final long UNPLANNED_ALLOWANCE = 64L << 20;

    @Override
    public long unplannedAllowanceBytes() {
        return UNPLANNED_ALLOWANCE;
    }

    @Override
    public DeviceMemory deviceMemory() {
        long[] ft = memGetInfo();
        return new DeviceMemory(ft[0], ft[1]);
    }

    /** {free, total} device bytes per cudaMemGetInfo. */
    public long[] memGetInfo() {
        try (SizeTPointer free = new SizeTPointer(1); SizeTPointer total = new SizeTPointer(1)) {
            CudaStatus.check(cudaMemGetInfo(free, total), "cudaMemGetInfo");
            return new long[] {free.get(), total.get()};
        }
    }

    /** Frees every buffer this backend allocated, the kernels module, cuDNN handle and stream. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        cudaStreamSynchronize(stream);
        cudaStreamSynchronize(copyStream);
        for (Slot slot : slots) {
            cudaFreeHost(slot.pinned);
            cudaEventDestroy(slot.copied);
            cudaEventDestroy(slot.consumed);
        }
        slots.clear();
        freeSlots.clear();
        timerEvents.forEach(e -> cudaEventDestroy(e));
        timerEvents.clear();
        for (CudaBuffer b : live.values()) {
            cudaFree(new DevicePointer(b.address()));
        }
        live.clear();
        adopted.clear();
        constants.clear();
        currentBytes = 0;
        convs.close();
        kernels.close();
        cudaStreamDestroy(stream);
        cudaStreamDestroy(copyStream);
        staging.close();
    }
}
