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
        Conv2d a = g.attrs();
        return new ConvShape(g.n(), g.cin(), g.h(), g.w(), g.cout(), g.kh(), g.kw(), g.hOut(), g.wOut(),
                a.strideH(), a.strideW(), a.padH(), a.padW(), a.dilationH(), a.dilationW(), a.groups());
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

    private static void launchDwFilter(CudaBackend gpu, DwGrid d, float cap, long z, long dy, long dW) {
        long counters = gpu.normScratch(d.c() * d.mult(), d.partialFloats());
        long partials = counters + gpu.normFloatsOffset();
        gpu.launchGrid("ls_dw_filter_k", d.gridX(), d.gridY(), DwGrid.BLOCK, d.args(cap, z, dy, dW, partials, counters));
    }

    /** in = {x, weight[, bias]}, out = {y}. */
    public static void forward(Conv2d op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        ConvGeometry g = geometry(op, in[0], in[1]);
        DwGrid d = dwForward(g, false);
        if (d != null) {
            long bias = in.length == 3 ? in[2].address() : 0L;
            gpu.launchGrid("ls_dw_forward_k", d.gridX(), d.gridY(), DwGrid.BLOCK, d.args(0f, in[0].address(), in[1].address(), bias,
                    out[0].address()));
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
            launchDwFilter(gpu, d, 0f, in[0].address(), in[1].address(), out[0].address());
            return;
        }
        gpu.convBackwardFilter(shape(g), in[0].address(), in[1].address(), out[0].address());
    }

    /** in = {dY}, out = {dB}: a two-level reduction per channel (norm.cu). */
    public static void biasGrad(BiasGrad op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        var s = in[0].spec().shape();
        NormSteps.biasGrad(new CudaNormKernels(gpu), s.dim(0), s.dim(1), s.dim(2) * s.dim(3), in[0].address(), out[0].address());
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
        if (d != null) {
            gpu.launchGrid("ls_dw_forward_k", d.gridX(), d.gridY(), DwGrid.BLOCK, d.args(op.act().cap(), in[0].address(), in[1].address(),
                    bias, out[0].address()));
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
            launchDwFilter(gpu, d, op.act().cap(), in[0].address(), in[1].address(), out[0].address());
            return;
        }
        gpu.launchBlocks("ls_act_dw_filter_k", g.cout() * g.kh() * g.kw(), depthwiseArgs(g.n(), g, op.act().cap(), in[0].address(),
                in[1].address(), out[0].address()));
    }
}
