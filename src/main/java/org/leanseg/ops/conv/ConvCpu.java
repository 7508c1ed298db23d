package org.leanseg.ops.conv;

import java.util.List;
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * The cpu column of the conv rows ({@code Ops}): oneDNN convolution primitives (forward, backward
 * data, backward weights; dense, grouped, depthwise, strided and dilated) through
 * {@link CpuNative#conv}, on plain NCHW / OIHW views; oneDNN's reorders and scratchpad live in the
 * workspace (Note [cpu workspace] in CpuBackend), sized by the {@code *Workspace} functions here,
 * which the plan calls. Activations may be 16-bit (Note [cpu 16-bit convolutions] in
 * src/main/cpp/cpu/conv.cpp says how that runs); weights, bias and the weight gradient are float32.
 * The fused ReLU·depthwise convolution activates its input into the workspace
 * and convolves that: the activated copy is transient, never an activation kept for backward. Large
 * runs go by image chunks (Note [cpu convolutions by image chunks]).
 * Checked by {@code CpuOpsParityTest}.
 */
public final class ConvCpu {
    private static final int FORWARD = 0;
    private static final int BACKWARD_DATA = 1;
    private static final int BACKWARD_WEIGHTS = 2;

    private ConvCpu() {
    }

    /**
     * oneDNN's geometry vector: N C H W O kh kw sh sw ph pw dh dw G Ho Wo, then the activations' element
     * type ({@link CpuNative#dtypeCode}; Note [cpu 16-bit convolutions] in src/main/cpp/cpu/conv.cpp).
     */
    static int[] geo(ConvGeometry g, DType activations) {
        Conv2d a = g.attrs();
        return new int[] {g.n(), g.cin(), g.h(), g.w(), g.cout(), g.kh(), g.kw(), a.strideH(), a.strideW(), a.padH(), a.padW(),
                a.dilationH(), a.dilationW(), a.groups(), g.hOut(), g.wOut(), CpuNative.dtypeCode(activations)};
    }

    private static ConvGeometry geometry(Conv2d attrs, Shape x, Shape w) {
        return ConvGeometry.of(attrs, x.dim(0), x.dim(1), x.dim(2), x.dim(3), w.dim(0), w.dim(2), w.dim(3));
    }

    /** Geometry of a backward-data run: dy [N, O, Ho, Wo], w [O, C/g, kh, kw], x is [N, C, inH, inW]. */
    private static ConvGeometry dataGeometry(Conv2dBackwardData op, Shape dy, Shape w) {
        Shape x = Shape.of(dy.dim(0), w.dim(1) * op.groups(), op.inH(), op.inW());
        return geometry(op.forward(), x, w);
    }

    /** Geometry of a backward-filter run: x [N, C, H, W], dy [N, O, Ho, Wo], w is [O, C/g, kh, kw]. */
    private static ConvGeometry filterGeometry(Conv2dBackwardFilter op, Shape x, Shape dy) {
        Shape w = Shape.of(dy.dim(1), x.dim(1) / op.groups(), op.kh(), op.kw());
        return geometry(op.forward(), x, w);
    }

    /*
     * Note [cpu convolutions by image chunks]
     * oneDNN's workspace for a convolution (its reorders of NCHW into blocked layouts and its scratchpad),
     * plus the fused activation's copy of the input, grows with the batch: 432 MiB for MobileNetV2's first
     * expanded depthwise conv at 8x512² (the activated input and the blocked source and destination), a
     * quarter of that step's planned peak. Where the whole batch's workspace would pass
     * CHUNK_WORKSPACE_BYTES, the kernel runs oneDNN on k images at a time, k the most whose workspace
     * stays under it (at least 1): forward and data gradient image chunk by image chunk, the filter
     * gradient of the first chunk straight into dW and of each later one into the workspace, added in
     * chunk order (deterministic). The plan asks the same functions for the workspace, so it counts
     * what runs. Checked by CpuOpsParityTest (its "chunked" cases) and CpuTrainStepTest.
     */
    /** Workspace a convolution may take before it runs by image chunks (Note [cpu convolutions by image chunks]). */
    static final long CHUNK_WORKSPACE_BYTES = 64L << 20;

    private static volatile long chunkLimitBytes = CHUNK_WORKSPACE_BYTES;

    /**
     * Sets the chunking limit and returns the previous one: for tests only, which force image chunks on
     * small cases (CpuOpsParityTest). Plans made under one limit are only valid under it.
     */
    /** The chunking limit now ({@link #CHUNK_WORKSPACE_BYTES} but in tests). */
    static long chunkLimit() {
        return chunkLimitBytes;
    }

    public static long chunkWorkspaceLimitForTests(long bytes) {
        long prev = chunkLimitBytes;
        chunkLimitBytes = bytes;
        return prev;
    }

    /** One call's plan: images per oneDNN call and the workspace bytes that needs (activated copy, dW buffer, oneDNN). */
    private record Chunks(int images, long activatedBytes, long filterBytes, long dnnlBytes) {
        long total() {
            return activatedBytes + filterBytes + dnnlBytes;
        }
    }

    /**
     * The images per call for a run of {@code kind} on {@code full} (oneDNN geometry, N first): all when
     * that fits {@link #CHUNK_WORKSPACE_BYTES}, else the most that do. {@code activatedPerImage}: bytes of
     * the fused activation's copy per image (0 for none); {@code filterBytes}: the dW buffer later chunks of a
     * filter gradient need.
     */
    static Chunks chunks(int kind, int[] full, boolean bias, long activatedPerImage, long filterBytes) {
        int n = full[0];
        Chunks all = plan(kind, full, n, bias, activatedPerImage, 0);
        long limit = chunkLimitBytes;
        if (all.total() <= limit || n == 1) {
            return all;
        }
        int k = (int) Math.max(1, Math.min(n - 1, (long) n * limit / all.total()));
        Chunks c = plan(kind, full, k, bias, activatedPerImage, kind == BACKWARD_WEIGHTS ? filterBytes : 0);
        while (k > 1 && c.total() > limit) {
            k--;
            c = plan(kind, full, k, bias, activatedPerImage, kind == BACKWARD_WEIGHTS ? filterBytes : 0);
        }
        return c;
    }

    private static Chunks plan(int kind, int[] full, int k, boolean bias, long activatedPerImage, long filterBytes) {
        return new Chunks(k, align(activatedPerImage * k), align(filterBytes), CpuNative.convWorkspace(kind, images(full, k), bias));
    }

    /** The geometry with {@code k} images. */
    private static int[] images(int[] full, int k) {
        int[] g = full.clone();
        g[0] = k;
        return g;
    }

    private static long align(long bytes) {
        return (bytes + 63) & ~63L;
    }

    /**
     * Runs {@code kind} over image chunks: {@code a} and {@code b} are the two inputs (b's per-image stride 0
     * for weights), {@code out} the output; for a filter gradient out is dW, summed over chunks in order.
     * With {@code act}, a's chunk is activated into the workspace first and the convolution reads that.
     */
    private static void run(int kind, int[] full, Chunks c, CpuBackend cpu, long a, long aStride, long b, long bStride, long bias, long out,
                            long outStride, Activation.Kind act, int dtA, long filterCount) {
        long ws = cpu.workspace(c.total());
        long activated = ws;
        long filter = ws + c.activatedBytes();
        long dnnl = filter + c.filterBytes();
        int n = full[0];
        for (int n0 = 0; n0 < n; n0 += c.images()) {
            int k = Math.min(c.images(), n - n0);
            int[] geo = images(full, k);
            long src = a + n0 * aStride;
            if (act != null) {
                CpuNative.activation(src, activated, k * aStride / elementBytes(dtA), act.cap(), dtA);
                src = activated;
            }
            if (kind == BACKWARD_WEIGHTS) {
                boolean first = n0 == 0;
                CpuNative.conv(kind, geo, src, b + n0 * bStride, 0, first ? out : filter, dnnl);
                if (!first) {
                    CpuNative.accumulate(out, filter, filterCount, CpuNative.dtypeCode(DType.F32));
                }
            } else {
                CpuNative.conv(kind, geo, src, b + n0 * bStride, bias, out + n0 * outStride, dnnl);
            }
        }
    }

    private static int elementBytes(int dtypeCode) {
        return dtypeCode == CpuNative.dtypeCode(DType.F32) ? 4 : 2;
    }

    /** Bytes of one image of an [N, C, H, W] activation. */
    private static long perImage(CpuView v) {
        return perImage(v.spec());
    }

    private static long perImage(TensorSpec v) {
        Shape s = v.shape();
        return (long) v.dtype().bytes() * s.dim(1) * s.dim(2) * s.dim(3);
    }

    public static void forward(Conv2d op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        ConvGeometry g = geometry(op, in[0].spec().shape(), in[1].spec().shape());
        boolean bias = in.length == 3;
        int[] geo = geo(g, act(in[0], out[0]));
        run(FORWARD, geo, chunks(FORWARD, geo, bias, 0, 0), cpu, in[0].address(), perImage(in[0]), in[1].address(), 0,
                bias ? in[2].address() : 0, out[0].address(), perImage(out[0]), null, 0, 0);
    }

    public static long forwardWorkspace(Conv2d op, List<TensorSpec> in) {
        ConvGeometry g = geometry(op, in.get(0).shape(), in.get(1).shape());
        return chunks(FORWARD, geo(g, in.get(0).dtype()), in.size() == 3, 0, 0).total();
    }

    public static void backwardData(Conv2dBackwardData op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        int[] geo = geo(dataGeometry(op, in[0].spec().shape(), in[1].spec().shape()), act(in[0], out[0]));
        run(BACKWARD_DATA, geo, chunks(BACKWARD_DATA, geo, false, 0, 0), cpu, in[0].address(), perImage(in[0]), in[1].address(), 0, 0,
                out[0].address(), perImage(out[0]), null, 0, 0);
    }

    public static long backwardDataWorkspace(Conv2dBackwardData op, List<TensorSpec> in) {
        return chunks(BACKWARD_DATA, geo(dataGeometry(op, in.get(0).shape(), in.get(1).shape()), in.get(0).dtype()), false, 0, 0).total();
    }

    public static void backwardFilter(Conv2dBackwardFilter op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        int[] geo = geo(filterGeometry(op, in[0].spec().shape(), in[1].spec().shape()), act(in[0], in[1]));
        run(BACKWARD_WEIGHTS, geo, chunks(BACKWARD_WEIGHTS, geo, false, 0, 4L * out[0].numel()), cpu, in[0].address(), perImage(in[0]),
                in[1].address(), perImage(in[1]), 0, out[0].address(), 0, null, 0, out[0].numel());
    }

    public static long backwardFilterWorkspace(Conv2dBackwardFilter op, List<TensorSpec> in) {
        int[] geo = geo(filterGeometry(op, in.get(0).shape(), in.get(1).shape()), in.get(0).dtype());
        return chunks(BACKWARD_WEIGHTS, geo, false, 0, 4L * filterCount(geo)).total();
    }

    /** Elements of the weight of a geometry: O x C/g x kh x kw. */
    private static long filterCount(int[] geo) {
        return (long) geo[4] * (geo[1] / geo[13]) * geo[5] * geo[6];
    }

    public static void biasGrad(BiasGrad op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.biasGrad(in[0].address(), out[0].address(), s.dim(0), s.dim(1), s.dim(2) * s.dim(3), CpuNative.dtypeCode(in[0]));
    }

    /** The element type of a convolution's activations (x / y / dY / dX), which must agree. */
    private static DType act(CpuView a, CpuView b) {
        CpuNative.dtypeCode(a, b);
        return a.spec().dtype();
    }

    /** y = conv(act(z)): act(z) into the workspace, then the oneDNN convolution (its workspace after it), by image chunks. */
    public static void actDepthwiseForward(ActConv2d op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape z = in[0].spec().shape();
        ConvGeometry g = geometry(op.conv(), z, in[1].spec().shape());
        boolean bias = in.length == 3;
        int[] geo = geo(g, act(in[0], out[0]));
        run(FORWARD, geo, chunks(FORWARD, geo, bias, perImage(in[0]), 0), cpu, in[0].address(), perImage(in[0]), in[1].address(), 0,
                bias ? in[2].address() : 0, out[0].address(), perImage(out[0]), op.act(), CpuNative.dtypeCode(in[0]), 0);
    }

    public static long actDepthwiseForwardWorkspace(ActConv2d op, List<TensorSpec> in) {
        Shape z = in.get(0).shape();
        int[] geo = geo(geometry(op.conv(), z, in.get(1).shape()), in.get(0).dtype());
        return chunks(FORWARD, geo, in.size() == 3, perImage(in.get(0)), 0).total();
    }

    /** dW = conv_backward_filter(act(z), dY): act(z) into the workspace first, by image chunks. */
    public static void actDepthwiseBackwardFilter(ActConv2dBackwardFilter op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape z = in[0].spec().shape();
        int[] geo = geo(filterGeometry(op.filter(), z, in[1].spec().shape()), act(in[0], in[1]));
        run(BACKWARD_WEIGHTS, geo, chunks(BACKWARD_WEIGHTS, geo, false, perImage(in[0]), 4L * out[0].numel()), cpu, in[0].address(),
                perImage(in[0]), in[1].address(), perImage(in[1]), 0, out[0].address(), 0, op.act(), CpuNative.dtypeCode(in[0]),
                out[0].numel());
    }

    public static long actDepthwiseBackwardFilterWorkspace(ActConv2dBackwardFilter op, List<TensorSpec> in) {
        Shape z = in.get(0).shape();
        int[] geo = geo(filterGeometry(op.filter(), z, in.get(1).shape()), in.get(0).dtype());
        return chunks(BACKWARD_WEIGHTS, geo, false, perImage(in.get(0)), 4L * filterCount(geo)).total();
    }

    /**
     * oneDNN's implementation for a forward convolution (e.g. "jit:avx2"; with 16-bit activations where
     * oneDNN has no 16-bit primitive, "jit:avx2 (f32 compute, bf16 storage)"), for profiles and docs.
     */
    public static String forwardImpl(Conv2d op, Shape x, Shape w, boolean bias, DType activations) {
        return CpuNative.convImpl(FORWARD, geo(geometry(op, x, w), activations), bias);
    }
}
