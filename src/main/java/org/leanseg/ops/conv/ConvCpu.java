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
 * and convolves that: the activated copy is transient, never an activation kept for backward.
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

    public static void forward(Conv2d op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        ConvGeometry g = geometry(op, in[0].spec().shape(), in[1].spec().shape());
        boolean bias = in.length == 3;
        int[] geo = geo(g, act(in[0], out[0]));
        long ws = cpu.workspace(CpuNative.convWorkspace(FORWARD, geo, bias));
        CpuNative.conv(FORWARD, geo, in[0].address(), in[1].address(), bias ? in[2].address() : 0, out[0].address(), ws);
    }

    public static long forwardWorkspace(Conv2d op, List<TensorSpec> in) {
        ConvGeometry g = geometry(op, in.get(0).shape(), in.get(1).shape());
        return CpuNative.convWorkspace(FORWARD, geo(g, in.get(0).dtype()), in.size() == 3);
    }

    public static void backwardData(Conv2dBackwardData op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        int[] geo = geo(dataGeometry(op, in[0].spec().shape(), in[1].spec().shape()), act(in[0], out[0]));
        long ws = cpu.workspace(CpuNative.convWorkspace(BACKWARD_DATA, geo, false));
        CpuNative.conv(BACKWARD_DATA, geo, in[0].address(), in[1].address(), 0, out[0].address(), ws);
    }

    public static long backwardDataWorkspace(Conv2dBackwardData op, List<TensorSpec> in) {
        return CpuNative.convWorkspace(BACKWARD_DATA, geo(dataGeometry(op, in.get(0).shape(), in.get(1).shape()), in.get(0).dtype()), false);
    }

    public static void backwardFilter(Conv2dBackwardFilter op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        int[] geo = geo(filterGeometry(op, in[0].spec().shape(), in[1].spec().shape()), act(in[0], in[1]));
        long ws = cpu.workspace(CpuNative.convWorkspace(BACKWARD_WEIGHTS, geo, false));
        CpuNative.conv(BACKWARD_WEIGHTS, geo, in[0].address(), in[1].address(), 0, out[0].address(), ws);
    }

    public static long backwardFilterWorkspace(Conv2dBackwardFilter op, List<TensorSpec> in) {
        return CpuNative.convWorkspace(BACKWARD_WEIGHTS, geo(filterGeometry(op, in.get(0).shape(), in.get(1).shape()), in.get(0).dtype()),
                false);
    }

    public static void biasGrad(BiasGrad op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.biasGrad(in[0].address(), out[0].address(), s.dim(0), s.dim(1), s.dim(2) * s.dim(3), CpuNative.dtypeCode(in[0]));
    }

    /** Bytes of act(z) in the workspace (z's element type), rounded to oneDNN's 64-byte alignment. */
    private static long activatedBytes(TensorSpec z) {
        return ((long) z.dtype().bytes() * z.shape().numel() + 63) & ~63L;
    }

    /** The element type of a convolution's activations (x / y / dY / dX), which must agree. */
    private static DType act(CpuView a, CpuView b) {
        CpuNative.dtypeCode(a, b);
        return a.spec().dtype();
    }

    /** y = conv(act(z)): act(z) into the workspace, then the oneDNN convolution (its workspace after it). */
    public static void actDepthwiseForward(ActConv2d op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape z = in[0].spec().shape();
        ConvGeometry g = geometry(op.conv(), z, in[1].spec().shape());
        boolean bias = in.length == 3;
        int[] geo = geo(g, act(in[0], out[0]));
        long a = activatedBytes(in[0].spec());
        long ws = cpu.workspace(a + CpuNative.convWorkspace(FORWARD, geo, bias));
        activate(op.act(), in[0], ws);
        CpuNative.conv(FORWARD, geo, ws, in[1].address(), bias ? in[2].address() : 0, out[0].address(), ws + a);
    }

    public static long actDepthwiseForwardWorkspace(ActConv2d op, List<TensorSpec> in) {
        Shape z = in.get(0).shape();
        return activatedBytes(in.get(0)) + CpuNative.convWorkspace(FORWARD, geo(geometry(op.conv(), z, in.get(1).shape()), in.get(0).dtype()),
                in.size() == 3);
    }

    /** dW = conv_backward_filter(act(z), dY): act(z) into the workspace first. */
    public static void actDepthwiseBackwardFilter(ActConv2dBackwardFilter op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape z = in[0].spec().shape();
        int[] geo = geo(filterGeometry(op.filter(), z, in[1].spec().shape()), act(in[0], in[1]));
        long a = activatedBytes(in[0].spec());
        long ws = cpu.workspace(a + CpuNative.convWorkspace(BACKWARD_WEIGHTS, geo, false));
        activate(op.act(), in[0], ws);
        CpuNative.conv(BACKWARD_WEIGHTS, geo, ws, in[1].address(), 0, out[0].address(), ws + a);
    }

    public static long actDepthwiseBackwardFilterWorkspace(ActConv2dBackwardFilter op, List<TensorSpec> in) {
        Shape z = in.get(0).shape();
        return activatedBytes(in.get(0))
                + CpuNative.convWorkspace(BACKWARD_WEIGHTS, geo(filterGeometry(op.filter(), z, in.get(1).shape()), in.get(0).dtype()), false);
    }

    private static void activate(Activation.Kind act, CpuView z, long into) {
        CpuNative.activation(z.address(), into, z.numel(), act.cap(), CpuNative.dtypeCode(z));
    }

    /**
     * oneDNN's implementation for a forward convolution (e.g. "jit:avx2"; with 16-bit activations where
     * oneDNN has no 16-bit primitive, "jit:avx2 (f32 compute, bf16 storage)"), for profiles and docs.
     */
    public static String forwardImpl(Conv2d op, Shape x, Shape w, boolean bias, DType activations) {
        return CpuNative.convImpl(FORWARD, geo(geometry(op, x, w), activations), bias);
    }
}
