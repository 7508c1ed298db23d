package org.leanseg.ops.conv;

import java.util.List;
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * The cpu column of the conv rows ({@code Ops}): convolutions (forward, backward data, backward
 * weights; dense, grouped, depthwise, strided and dilated) through {@link CpuNative#conv}, on plain
 * NCHW / OIHW views: 1x1 convolutions as GEMMs, depthwise ones by our own loops, the rest by oneDNN
 * primitives (Note [cpu conv paths] in src/main/cpp/cpu/conv.cpp). oneDNN's reorders and scratchpad
 * live in the workspace (Note [cpu workspace] in CpuBackend), sized by the {@code *Workspace}
 * functions here, which the plan calls. The fused ReLU·depthwise convolution applies its activation
 * as it reads its input: nothing activated is kept for backward.
 * Checked by {@code CpuOpsParityTest}.
 */
public final class ConvCpu {
    private static final int FORWARD = 0;
    private static final int BACKWARD_DATA = 1;
    private static final int BACKWARD_WEIGHTS = 2;

    private ConvCpu() {
    }

    /** oneDNN's geometry vector: N C H W O kh kw sh sw ph pw dh dw G Ho Wo. */
    static int[] geo(ConvGeometry g) {
        Conv2d a = g.attrs();
        return new int[] {g.n(), g.cin(), g.h(), g.w(), g.cout(), g.kh(), g.kw(), a.strideH(), a.strideW(), a.padH(), a.padW(),
                a.dilationH(), a.dilationW(), a.groups(), g.hOut(), g.wOut()};
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

    /** No activation before the convolution (the native side's act argument). */
    private static final float NO_ACT = 0f;

    public static void forward(Conv2d op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        run(FORWARD, geo(geometry(op, in[0].spec().shape(), in[1].spec().shape())), cpu, in, out, NO_ACT);
    }

    public static long forwardWorkspace(Conv2d op, List<TensorSpec> in) {
        return CpuNative.convWorkspace(FORWARD, geo(geometry(op, in.get(0).shape(), in.get(1).shape())), in.size() == 3, NO_ACT);
    }

    public static void backwardData(Conv2dBackwardData op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        run(BACKWARD_DATA, geo(dataGeometry(op, in[0].spec().shape(), in[1].spec().shape())), cpu, in, out, NO_ACT);
    }

    public static long backwardDataWorkspace(Conv2dBackwardData op, List<TensorSpec> in) {
        return CpuNative.convWorkspace(BACKWARD_DATA, geo(dataGeometry(op, in.get(0).shape(), in.get(1).shape())), false, NO_ACT);
    }

    public static void backwardFilter(Conv2dBackwardFilter op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        run(BACKWARD_WEIGHTS, geo(filterGeometry(op, in[0].spec().shape(), in[1].spec().shape())), cpu, in, out, NO_ACT);
    }

    public static long backwardFilterWorkspace(Conv2dBackwardFilter op, List<TensorSpec> in) {
        return CpuNative.convWorkspace(BACKWARD_WEIGHTS, geo(filterGeometry(op, in.get(0).shape(), in.get(1).shape())), false, NO_ACT);
    }

    public static void biasGrad(BiasGrad op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.biasGrad(in[0].address(), out[0].address(), s.dim(0), s.dim(1), s.dim(2) * s.dim(3));
    }

    /**
     * y = conv(act(z)): the native side applies the activation as it reads z where its path fuses it
     * (depthwise, Note [cpu conv paths] in conv.cpp), else into the workspace first, a transient copy.
     */
    public static void actDepthwiseForward(ActDepthwiseConv2d op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        run(FORWARD, geo(geometry(op.conv(), in[0].spec().shape(), in[1].spec().shape())), cpu, in, out, op.act().cap());
    }

    public static long actDepthwiseForwardWorkspace(ActDepthwiseConv2d op, List<TensorSpec> in) {
        return CpuNative.convWorkspace(FORWARD, geo(geometry(op.conv(), in.get(0).shape(), in.get(1).shape())), in.size() == 3,
                op.act().cap());
    }

    /** dW = conv_backward_filter(act(z), dY), the activation applied as for the forward. */
    public static void actDepthwiseBackwardFilter(ActDepthwiseConv2dBackwardFilter op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        run(BACKWARD_WEIGHTS, geo(filterGeometry(op.filter(), in[0].spec().shape(), in[1].spec().shape())), cpu, in, out, op.act().cap());
    }

    public static long actDepthwiseBackwardFilterWorkspace(ActDepthwiseConv2dBackwardFilter op, List<TensorSpec> in) {
        return CpuNative.convWorkspace(BACKWARD_WEIGHTS, geo(filterGeometry(op.filter(), in.get(0).shape(), in.get(1).shape())), false,
                op.act().cap());
    }

    /** One native convolution: inputs a, b (and a bias for a forward with three inputs) into out[0]. */
    private static void run(int kind, int[] geo, CpuBackend cpu, CpuView[] in, CpuView[] out, float act) {
        boolean bias = kind == FORWARD && in.length == 3;
        long ws = cpu.workspace(CpuNative.convWorkspace(kind, geo, bias, act));
        CpuNative.conv(kind, geo, in[0].address(), in[1].address(), bias ? in[2].address() : 0, out[0].address(), ws, act);
    }

    /** oneDNN's implementation for a forward convolution (e.g. "jit:avx2"), for profiles and docs. */
    public static String forwardImpl(Conv2d op, Shape x, Shape w, boolean bias) {
        return CpuNative.convImpl(FORWARD, geo(geometry(op, x, w)), bias);
    }
}
