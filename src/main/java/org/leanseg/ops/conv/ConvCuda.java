package org.leanseg.ops.conv;

import org.leanseg.backend.cuda.ConvShape;
import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaNormKernels;
import org.leanseg.backend.cuda.NormSteps;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.backend.cuda.DwGrid;

/**
 * CUDA bindings of the convolution ops: cuDNN forward / backward data / backward filter, the bias
 * added and its gradient summed by our kernels (norm.cu), and depthwise convolutions on our tiled
 * kernels (Note [Depthwise kernels by tiles] in dw.cuh, grids from {@link DwGrid}), as PyTorch runs
 * fp32 NCHW depthwise convolutions on its own kernels: plain forward, data and filter gradients, and
 * the fused ReLU/ReLU6·depthwise convolution's forward and filter gradient (its data gradient is the
 * plain one plus relu_backward). Shapes the tiled kernels do not take (a stage past shared memory,
 * a filter gradient larger than 3x3) keep cuDNN, or for the fused op the one-thread-per-output and
 * one-block-per-tap kernels of conv.cu. Sizes come from {@link ConvGeometry} (ShapeMath).
 * Reference: {@link ConvGemmKernels}, {@link DepthwiseKernels}.
 */
public final class ConvCuda {
    private ConvCuda() {
    }

    static ConvShape shape(ConvGeometry g) {
        return shape(g, 0);
    }

    /** {@code g} with data, filter and output of storage type code {@code dataType} ({@link CudaBackend#typeCode}). */
    static ConvShape shape(ConvGeometry g, int dataType) {
        Conv2d a = g.attrs();
        return new ConvShape(g.n(), g.cin(), g.h(), g.w(), g.cout(), g.kh(), g.kw(), g.hOut(), g.wOut(),
                a.strideH(), a.strideW(), a.padH(), a.padW(), a.dilationH(), a.dilationW(), a.groups(), dataType);
    }

    /*
     * Note [16-bit cuDNN convolutions]
     * A convolution forward (without bias) or data gradient on bf16 or fp16 activations runs on cuDNN with 16-bit
     * data, filter and output descriptors, float32 compute and CUDNN_TENSOR_OP_MATH (tensor cores), as PyTorch's
     * autocast does: the float32 weights are first rounded into a 16-bit copy at the start of the workspace
     * (CudaBackend.widenScratch, ls_convert_k), which is what the reference's 16-bit emulation multiplies by
     * (Op.roundedOperands), and cuDNN's workspace follows it; the plan counts both (cudnnWorkspace). The output is the
     * float32 accumulation rounded once to 16 bits, as the reference's, in another summation order. A biased
     * forward adds the bias before that rounding in the reference, so it runs on float32 copies by chunks of images
     * (byImageChunks: one chunk's copies at a time), as do the fused ReLU-depthwise shapes the tiled kernels do not take. The filter gradient's output is float32, which cuDNN's 16-bit configurations do not give (they
     * would round dW to 16 bits), so it runs on float32 copies of x and dY too, but by chunks of images
     * (filterChunkImages: copies of at most FILTER_CHUNK_BYTES, all chunks of one size), accumulating into dW with
     * cuDNN's beta = 1: the copies of one chunk instead of the whole batch.
     * Depthwise convolutions the tiled kernels take run there on 16-bit data directly (dw.cuh: the weights rounded
     * inside the kernel, bit for bit the reference's 16-bit emulation, HostDwGridTest); other depthwise shapes take
     * the paths above.
     * Not yet run on a GPU: the table marks these 16-bit cells untested, so without Note [Running untested kernels]
     * cuda widens these convolutions too.
     */

    /**
     * Bytes of float32 copies one chunk of images may take (Note [16-bit cuDNN convolutions]): the cpu's chunk limit
     * (Note [cpu convolutions by image chunks]), and its test setting ({@code ConvCpu.chunkWorkspaceLimitForTests}).
     */
    static final long FILTER_CHUNK_BYTES = ConvCpu.CHUNK_WORKSPACE_BYTES;

    /**
     * Images per chunk of a 16-bit filter gradient: the largest divisor of the batch whose float32 copies of x and dY
     * fit {@link #FILTER_CHUNK_BYTES} (at least one image), so every chunk has one shape and one cuDNN algorithm.
     */
    static int filterChunkImages(int n, long xPerImage, long dyPerImage) {
        long per = 4 * (xPerImage + dyPerImage);
        for (int k = n; k > 1; k--) {
            if (n % k == 0 && k * per <= ConvCpu.chunkLimit()) {
                return k;
            }
        }
        return 1;
    }

    /** Workspace of a 16-bit filter gradient: one chunk's float32 copies of x and dY, then cuDNN's. */
    private static long filterChunkWorkspace(org.leanseg.tensor.Shape x, org.leanseg.tensor.Shape dy) {
        long xPer = x.numel() / x.dim(0);
        long dyPer = dy.numel() / dy.dim(0);
        int k = filterChunkImages(x.dim(0), xPer, dyPer);
        return org.leanseg.memory.Planner.align(4L * k * xPer) + org.leanseg.memory.Planner.align(4L * k * dyPer) + CudaBackend.WORKSPACE_LIMIT;
    }

    /** Images [i0, i0 + m) of an NCHW view. */
    private static CudaView images(CudaView v, int i0, int m) {
        org.leanseg.tensor.Shape s = v.spec().shape();
        long per = v.numel() / s.dim(0);
        return new CudaView(v.buffer(), v.byteOffset() + (long) i0 * per * CudaBackend.slotBytes(v.spec()),
                new org.leanseg.tensor.TensorSpec(org.leanseg.tensor.Shape.of(m, s.dim(1), s.dim(2), s.dim(3)), v.spec().dtype()));
    }

    /** The filter gradient of 16-bit x and dY by chunks of images on float32 copies, accumulated in dW (Note [16-bit cuDNN convolutions]). */
    private static void backwardFilter16(Conv2dBackwardFilter op, CudaBackend gpu, CudaView x, CudaView dy, CudaView dW) {
        ConvGeometry g = geometry(op.forward(), x, dW);
        long xPer = x.numel() / g.n();
        long dyPer = dy.numel() / g.n();
        int k = filterChunkImages(g.n(), xPer, dyPer);
        long xBytes = org.leanseg.memory.Planner.align(4L * k * xPer);
        org.leanseg.backend.Buffer b = gpu.widenScratch(xBytes + org.leanseg.memory.Planner.align(4L * k * dyPer), CudaBackend.WORKSPACE_LIMIT);
        try {
            ConvShape chunk = shape(ConvGeometry.of(op.forward(), k, g.cin(), g.h(), g.w(), g.cout(), g.kh(), g.kw()));
            for (int i0 = 0; i0 < g.n(); i0 += k) {
                CudaView xs = images(x, i0, k);
                CudaView dys = images(dy, i0, k);
                CudaView xf = (CudaView) gpu.view(b, 0, new org.leanseg.tensor.TensorSpec(xs.spec().shape(), org.leanseg.tensor.DType.F32));
                CudaView dyf = (CudaView) gpu.view(b, xBytes, new org.leanseg.tensor.TensorSpec(dys.spec().shape(), org.leanseg.tensor.DType.F32));
                gpu.convert(xs, xf);
                gpu.convert(dys, dyf);
                if (i0 == 0) {
                    gpu.convBackwardFilter(chunk, xf.address(), dyf.address(), dW.address());
                } else {
                    gpu.convBackwardFilterAccumulate(chunk, xf.address(), dyf.address(), dW.address());
                }
            }
        } finally {
            gpu.releaseWidenScratch(b);
        }
    }

    /**
     * Images per chunk when 16-bit per-image tensors of {@code perImageFloats} elements an image in all (as float32
     * copies) are widened by chunks: the largest divisor of {@code n} whose copies fit {@link #FILTER_CHUNK_BYTES}.
     */
    static int chunkImages(int n, long perImageFloats) {
        return filterChunkImages(n, perImageFloats, 0);
    }

    /**
     * Workspace of {@link #byImageChunks}: the rounded weights (a 16-bit and a float32 copy of in[1], forward only),
     * one chunk's float32 copies of every 16-bit tensor, a float32 dW for the later chunks of a sum, then the float32
     * kernel's own {@code kernelWorkspace}.
     */
    static long chunkWorkspace(java.util.List<org.leanseg.tensor.TensorSpec> in, java.util.List<org.leanseg.tensor.TensorSpec> out,
                               boolean sumOverImages, long kernelWorkspace) {
        int n = in.get(0).shape().dim(0);
        long perImage = 0;
        for (java.util.List<org.leanseg.tensor.TensorSpec> l : java.util.List.of(in, out)) {
            for (org.leanseg.tensor.TensorSpec s : l) {
                perImage += s.dtype().isHalf() ? s.shape().numel() / n : 0;
            }
        }
        long bytes = 0;
        if (!sumOverImages) {
            long w = in.get(1).shape().numel();
            bytes += org.leanseg.memory.Planner.align(2 * w) + org.leanseg.memory.Planner.align(4 * w);
        } else {
            bytes += org.leanseg.memory.Planner.align(4 * out.get(0).shape().numel());
        }
        long k = chunkImages(n, perImage);
        for (java.util.List<org.leanseg.tensor.TensorSpec> l : java.util.List.of(in, out)) {
            for (org.leanseg.tensor.TensorSpec s : l) {
                bytes += s.dtype().isHalf() ? org.leanseg.memory.Planner.align(4 * k * (s.shape().numel() / n)) : 0;
            }
        }
        return bytes + kernelWorkspace;
    }

    /**
     * Note [16-bit cuDNN convolutions]: runs a float32 kernel on float32 copies of the 16-bit tensors (all of them per
     * image, [N, ...]) a chunk of images at a time ({@link #chunkImages}), so the copies are one chunk's, not the
     * batch's. Forward ops (in = {x, w[, bias]}): the weights rounded to the activations' type and widened once, as the
     * reference multiplies by them; each chunk's outputs rounded back. With {@code sumOverImages} (a filter gradient,
     * in = {z, dY}, out = {dW} float32): the first chunk writes dW, each later one a float32 temporary added into it.
     */
    private static void byImageChunks(CudaBackend gpu, CudaView[] in, CudaView[] out, boolean sumOverImages, long kernelWorkspace,
                                      java.util.function.BiConsumer<CudaView[], CudaView[]> kernel) {
        java.util.List<org.leanseg.tensor.TensorSpec> inSpecs = java.util.Arrays.stream(in).map(CudaView::spec).toList();
        java.util.List<org.leanseg.tensor.TensorSpec> outSpecs = java.util.Arrays.stream(out).map(CudaView::spec).toList();
        long total = chunkWorkspace(inSpecs, outSpecs, sumOverImages, 0);
        int n = in[0].spec().shape().dim(0);
        long perImage = 0;
        for (CudaView[] vs : new CudaView[][] {in, out}) {
            for (CudaView v : vs) {
                perImage += v.spec().dtype().isHalf() ? v.numel() / n : 0;
            }
        }
        int k = chunkImages(n, perImage);
        org.leanseg.backend.Buffer b = gpu.widenScratch(total, kernelWorkspace);
        try {
            long at = 0;
            CudaView[] wIn = in.clone();
            CudaView[] wOut = out.clone();
            CudaView dwTemp = null;
            if (!sumOverImages) {   // the weights, rounded as the reference's 16-bit convolution
                CudaView w = in[1];
                long wn = w.numel();
                CudaView w16 = (CudaView) gpu.view(b, at, new org.leanseg.tensor.TensorSpec(w.spec().shape(), in[0].spec().dtype()));
                at += org.leanseg.memory.Planner.align(2 * wn);
                CudaView w32 = (CudaView) gpu.view(b, at, w.spec());
                at += org.leanseg.memory.Planner.align(4 * wn);
                gpu.convert(w, w16);
                gpu.convert(w16, w32);
                wIn[1] = w32;
            } else {
                dwTemp = (CudaView) gpu.view(b, at, out[0].spec());
                at += org.leanseg.memory.Planner.align(4 * out[0].numel());
            }
            CudaView[] inCopies = new CudaView[in.length];
            CudaView[] outCopies = new CudaView[out.length];
            for (CudaView[][] pair : new CudaView[][][] {{in, inCopies}, {out, outCopies}}) {
                for (int i = 0; i < pair[0].length; i++) {
                    CudaView v = pair[0][i];
                    if (v.spec().dtype().isHalf()) {
                        org.leanseg.tensor.Shape s = v.spec().shape();
                        pair[1][i] = (CudaView) gpu.view(b, at, new org.leanseg.tensor.TensorSpec(chunkShape(s, k), org.leanseg.tensor.DType.F32));
                        at += org.leanseg.memory.Planner.align(4L * k * (v.numel() / n));
                    }
                }
            }
            for (int i0 = 0; i0 < n; i0 += k) {
                for (int i = 0; i < in.length; i++) {
                    if (inCopies[i] != null) {
                        gpu.convert(images(in[i], i0, k), inCopies[i]);
                        wIn[i] = inCopies[i];
                    }
                }
                for (int i = 0; i < out.length; i++) {
                    if (outCopies[i] != null) {
                        wOut[i] = outCopies[i];
                    }
                }
                if (sumOverImages && i0 > 0) {
                    wOut[0] = dwTemp;
                }
                kernel.accept(wIn, wOut);
                for (int i = 0; i < out.length; i++) {
                    if (outCopies[i] != null) {
                        gpu.convert(outCopies[i], images(out[i], i0, k));
                    }
                }
                if (sumOverImages && i0 > 0) {
                    gpu.launch("ls_accumulate_k", out[0].numel(), out[0].numel(), out[0].address(), dwTemp.address());
                }
            }
        } finally {
            gpu.releaseWidenScratch(b);
        }
    }

    /** {@code s} with {@code k} images. */
    private static org.leanseg.tensor.Shape chunkShape(org.leanseg.tensor.Shape s, int k) {
        int[] d = new int[s.rank()];
        for (int i = 0; i < d.length; i++) {
            d[i] = i == 0 ? k : s.dim(i);
        }
        return org.leanseg.tensor.Shape.of(d);
    }

    /** Workspace of the fused activation-depthwise cells on cuda: a 16-bit run's chunked copies (their kernels take none). */
    public static long actDepthwiseWorkspace(Object op, java.util.List<org.leanseg.tensor.TensorSpec> in) {
        if (!in.get(0).dtype().isHalf()) {
            return 0;
        }
        org.leanseg.ops.Op o = (org.leanseg.ops.Op) op;
        return chunkWorkspace(in, o.infer(in), o instanceof ActConv2dBackwardFilter, 0);
    }

    /** Whether a 16-bit convolution of these inputs runs on cuDNN's 16-bit path (Note [16-bit cuDNN convolutions]). */
    private static boolean cudnn16(java.util.List<org.leanseg.tensor.TensorSpec> in, boolean forward) {
        return in.get(0).dtype().isHalf() && !(forward && in.size() == 3);
    }

    /** Runs {@code conv} with the address of a 16-bit copy of float32 weights {@code w} of {@code x}'s 16-bit type. */
    private static void withHalfWeights(CudaBackend gpu, CudaView x, CudaView w, java.util.function.LongConsumer conv) {
        org.leanseg.backend.Buffer b = gpu.widenScratch(2 * w.numel(), CudaBackend.WORKSPACE_LIMIT);
        try {
            CudaView w16 = (CudaView) gpu.view(b, 0, new org.leanseg.tensor.TensorSpec(w.spec().shape(), x.spec().dtype()));
            gpu.convert(w, w16);
            conv.accept(w16.address());
        } finally {
            gpu.releaseWidenScratch(b);
        }
    }

    private static ConvGeometry geometry(Conv2d attrs, CudaView x, CudaView w) {
        var xs = x.spec().shape();
        var ws = w.spec().shape();
        return ConvGeometry.of(attrs, xs.dim(0), xs.dim(1), xs.dim(2), xs.dim(3), ws.dim(0), ws.dim(2), ws.dim(3));
    }

    /**
     * The workspace the plan counts for a cuDNN convolution: the backend's workspace limit
     * ({@link CudaBackend#WORKSPACE_LIMIT}), since the algorithm is chosen only when the op first runs and
     * may take up to that much. The plan's workspace term is the largest over the step, so a step with
     * convolutions plans exactly one limit's worth.
     */
    public static <O> long cudnnWorkspace(O op, java.util.List<org.leanseg.tensor.TensorSpec> in) {
        if (in.get(0).dtype().isHalf()) {   // Note [16-bit cuDNN convolutions]
            if (op instanceof Conv2dBackwardFilter) {
                return filterChunkWorkspace(in.get(0).shape(), in.get(1).shape());
            }
            if (!cudnn16(in, op instanceof Conv2d)) {   // a biased forward
                return chunkWorkspace(in, ((org.leanseg.ops.Op) op).infer(in), false, CudaBackend.WORKSPACE_LIMIT);
            }
            return org.leanseg.memory.Planner.align(2 * in.get(1).shape().numel()) + CudaBackend.WORKSPACE_LIMIT;
        }
        return CudaBackend.WORKSPACE_LIMIT;
    }

    /**
     * {@code LEANSEG_CUDA_DEPTHWISE=cudnn} (or {@code -Dleanseg.cuda.depthwise=cudnn}): depthwise convolutions on
     * cuDNN and the fused ones on the one-thread-per-output kernels, as before the tiled kernels: the A/B lever of the
     * step-level comparison on a GPU (CudaDwBench compares the kernels alone).
     */
    static final boolean TILED = !"cudnn".equalsIgnoreCase(System.getProperty("leanseg.cuda.depthwise",
            System.getenv("LEANSEG_CUDA_DEPTHWISE") == null ? "" : System.getenv("LEANSEG_CUDA_DEPTHWISE")));

    /** The tiled depthwise kernels' grid for {@code g}, or null (not depthwise, or a shape they do not take). */
    private static DwGrid dwForward(ConvGeometry g, boolean act) {
        Conv2d a = g.attrs();
        return !g.depthwise() || !TILED ? null : DwGrid.forward(g.n(), g.cin(), g.coutPerGroup(), g.h(), g.w(), g.hOut(), g.wOut(), g.kh(), g.kw(),
                a.strideH(), a.strideW(), a.padH(), a.padW(), a.dilationH(), a.dilationW(), act);
    }

    private static DwGrid dwBackwardData(ConvGeometry g) {
        Conv2d a = g.attrs();
        return !g.depthwise() || !TILED ? null : DwGrid.backwardData(g.n(), g.cin(), g.coutPerGroup(), g.h(), g.w(), g.hOut(), g.wOut(), g.kh(),
                g.kw(), a.strideH(), a.strideW(), a.padH(), a.padW(), a.dilationH(), a.dilationW());
    }

    private static DwGrid dwFilter(ConvGeometry g, boolean act) {
        Conv2d a = g.attrs();
        return !g.depthwise() || !TILED ? null : DwGrid.filter(g.n(), g.cin(), g.coutPerGroup(), g.h(), g.w(), g.hOut(), g.wOut(), g.kh(), g.kw(),
                a.strideH(), a.strideW(), a.padH(), a.padW(), a.dilationH(), a.dilationW(), act);
    }

    /** The tiled filter gradient; {@code dt}: the storage type of z and dY ({@link CudaBackend#typeCode}). */
    private static void launchDwFilter(CudaBackend gpu, DwGrid d, float cap, long z, long dy, long dW, int dt) {
        long counters = gpu.normScratch(d.c() * d.mult(), d.partialFloats());
        long partials = counters + gpu.normFloatsOffset();
        gpu.launchGrid("ls_dw_filter_k", d.gridX(), d.gridY(), DwGrid.BLOCK, d.args(cap, z, dy, dW, partials, counters, dt));
    }

    /** in = {x, weight[, bias]}, out = {y}. */
    public static void forward(Conv2d op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        ConvGeometry g = geometry(op, in[0], in[1]);
        DwGrid d = dwForward(g, false);
        if (d != null) {   // the tiled kernels take 16-bit data too (dw.cuh), the bias before the one rounding
            long bias = in.length == 3 ? in[2].address() : 0L;
            gpu.launchGrid("ls_dw_forward_k", d.gridX(), d.gridY(), DwGrid.BLOCK, d.args(0f, in[0].address(), in[1].address(), bias,
                    out[0].address(), CudaBackend.typeCode(in[0].spec())));
            return;
        }
        if (in[0].spec().dtype().isHalf()) {   // Note [16-bit cuDNN convolutions]
            if (in.length == 3) {   // the bias before the one rounding: float32 copies by chunks of images
                byImageChunks(gpu, in, out, false, CudaBackend.WORKSPACE_LIMIT, (wi, wo) -> forward(op, gpu, wi, wo));
            } else {
                withHalfWeights(gpu, in[0], in[1], w16 -> gpu.convForward(shape(g, CudaBackend.typeCode(in[0].spec())), in[0].address(), w16,
                        out[0].address()));
            }
            return;
        }
        gpu.convForward(shape(g), in[0].address(), in[1].address(), out[0].address());
        if (in.length == 3) {
            // y[n, c, :] += bias[c] (cudnnAddTensor would do too; one kernel keeps the arithmetic ours)
            NormSteps.biasAdd(new CudaNormKernels(gpu), g.n(), g.cout(), g.outPlane(), in[2].address(), out[0].address());
        }
    }

    /** in = {dY, weight}, out = {dX}. */
    public static void backwardData(Conv2dBackwardData op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        ConvGeometry g = geometry(op.forward(), out[0], in[1]);
        DwGrid d = dwBackwardData(g);
        if (d != null) {
            gpu.launchGrid("ls_dw_backward_data_k", d.gridX(), d.gridY(), DwGrid.BLOCK, d.args(in[0].address(), in[1].address(),
                    out[0].address(), CudaBackend.typeCode(in[0].spec())));
            return;
        }
        if (in[0].spec().dtype().isHalf()) {   // Note [16-bit cuDNN convolutions]
            withHalfWeights(gpu, in[0], in[1], w16 -> gpu.convBackwardData(shape(g, CudaBackend.typeCode(in[0].spec())), in[0].address(), w16,
                    out[0].address()));
            return;
        }
        gpu.convBackwardData(shape(g), in[0].address(), in[1].address(), out[0].address());
    }

    /** in = {x, dY}, out = {dW}. */
    public static void backwardFilter(Conv2dBackwardFilter op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        ConvGeometry g = geometry(op.forward(), in[0], out[0]);
        DwGrid d = dwFilter(g, false);
        if (d != null) {
            launchDwFilter(gpu, d, 0f, in[0].address(), in[1].address(), out[0].address(), CudaBackend.typeCode(in[0].spec()));
            return;
        }
        if (in[0].spec().dtype().isHalf()) {
            backwardFilter16(op, gpu, in[0], in[1], out[0]);
            return;
        }
        gpu.convBackwardFilter(shape(g), in[0].address(), in[1].address(), out[0].address());
    }

    /** in = {dY}, out = {dB}: a two-level reduction per channel (norm.cu). */
    public static void biasGrad(BiasGrad op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        var s = in[0].spec().shape();
        NormSteps.biasGrad(new CudaNormKernels(gpu, CudaBackend.typeCode(in[0].spec())), s.dim(0), s.dim(1), s.dim(2) * s.dim(3),
                in[0].address(), out[0].address());
    }

    /** Arguments of the conv.cu kernels: first, then C, mult, H, W, Hout, Wout, kh, kw, strides, pads, dilations, then tail. */
    private static Object[] depthwiseArgs(Object first, ConvGeometry g, Object... tail) {
        Conv2d a = g.attrs();
        java.util.List<Object> all = new java.util.ArrayList<>(java.util.List.of(first, g.cin(), g.coutPerGroup(), g.h(), g.w(),
                g.hOut(), g.wOut(), g.kh(), g.kw(), a.strideH(), a.strideW(), a.padH(), a.padW(), a.dilationH(), a.dilationW()));
        all.addAll(java.util.Arrays.asList(tail));
        return all.toArray();
    }

    /** Fused activation + depthwise conv forward: in = {z, weight[, bias]}, out = {y}; tiled, else one thread per output. */
    public static void actDepthwiseForward(ActConv2d op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        ConvGeometry g = geometry(op.conv(), in[0], in[1]);
        long total = out[0].numel();
        long bias = in.length == 3 ? in[2].address() : 0L;   // 0: a null pointer, no bias
        DwGrid d = dwForward(g, true);
        if (d != null) {   // 16-bit data too (dw.cuh)
            gpu.launchGrid("ls_dw_forward_k", d.gridX(), d.gridY(), DwGrid.BLOCK, d.args(op.act().cap(), in[0].address(), in[1].address(),
                    bias, out[0].address(), CudaBackend.typeCode(in[0].spec())));
            return;
        }
        if (in[0].spec().dtype().isHalf()) {   // Note [16-bit cuDNN convolutions]: the float32 kernels by chunks of images
            byImageChunks(gpu, in, out, false, 0, (wi, wo) -> actDepthwiseForward(op, gpu, wi, wo));
            return;
        }
        gpu.launch("ls_act_dw_forward_k", total, depthwiseArgs(total, g, op.act().cap(), in[0].address(), in[1].address(), bias,
                out[0].address()));
    }

    /**
     * Fused activation + depthwise conv filter gradient: in = {z, dY}, out = {dW}; a two-level reduction per channel, or
     * (filters past 3x3) one block per (channel, tap).
     */
    public static void actDepthwiseBackwardFilter(ActConv2dBackwardFilter op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        ConvGeometry g = geometry(op.filter().forward(), in[0], out[0]);
        DwGrid d = dwFilter(g, true);
        if (d != null) {
            launchDwFilter(gpu, d, op.act().cap(), in[0].address(), in[1].address(), out[0].address(), CudaBackend.typeCode(in[0].spec()));
            return;
        }
        if (in[0].spec().dtype().isHalf()) {
            byImageChunks(gpu, in, out, true, 0, (wi, wo) -> actDepthwiseBackwardFilter(op, gpu, wi, wo));
            return;
        }
        gpu.launchBlocks("ls_act_dw_filter_k", g.cout() * g.kh() * g.kw(), depthwiseArgs(g.n(), g, op.act().cap(), in[0].address(),
                in[1].address(), out[0].address()));
    }
}
