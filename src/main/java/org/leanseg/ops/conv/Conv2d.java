package org.leanseg.ops.conv;

import java.util.ArrayList;
import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * 2-D convolution with PyTorch's semantics ({@code torch.nn.functional.conv2d}: cross-correlation,
 * zero padding, groups). Inputs: x f32 [N, Cin, H, W], weight f32 [Cout, Cin/groups, kh, kw] and
 * optionally bias f32 [Cout]. Output [N, Cout, Hout, Wout] with sizes from
 * {@link org.leanseg.tensor.ShapeMath#convOut}.
 *
 * <p>Kernels: depthwise convolutions (groups == Cin) run a direct loop ({@link DepthwiseKernels});
 * all others an implicit-im2col GEMM ({@link ConvGemmKernels}); 1x1 stride-1 convolutions skip
 * im2col. The backward appends {@link Conv2dBackwardData}, {@link Conv2dBackwardFilter} and
 * {@link BiasGrad}. Checked by {@code Conv2dTest} against a direct convolution in double.
 *
 * <pre>{@code
 * Graph g = new Graph();
 * Value x = g.input("x", TensorSpec.f32(2, 32, 64, 64));
 * Value w = g.variable(new Variable("conv.weight", TensorSpec.f32(64, 32, 3, 3), Role.PARAMETER));
 * Value y = g.apply1(Conv2d.of(1, 1, 1, 1), x, w);          // [2, 64, 64, 64]
 * Value dw = g.apply1(Conv2d.of(1, 2, 2, 64), y, dwWeight); // depthwise, dilation 2: [2, 64, 64, 64]
 * }</pre>
 */
public record Conv2d(int strideH, int strideW, int padH, int padW, int dilationH, int dilationW, int groups)
        implements Op {

    /** Square stride, padding and dilation. */
    public static Conv2d of(int stride, int padding, int dilation, int groups) {
        return new Conv2d(stride, stride, padding, padding, dilation, dilation, groups);
    }

    /** The weights, rounded to the activations' 16-bit type (Note [Mixed precision]). */
    @Override
    public int[] roundedOperands() {
        return new int[] {1};
    }

    @Override
    public String name() {
        return "conv2d";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 2 || in.size() == 3,
                "takes x, weight and an optional bias, got " + in.size() + " inputs");
        ConvGeometry geo = geometry(in.get(0), in.get(1));
        if (in.size() == 3) {
            TensorSpec b = in.get(2);
            OpException.check(b.dtype() == DType.F32 && b.shape().equals(Shape.of(geo.cout())),
                    "bias must be f32 [" + geo.cout() + "] (one per output channel), got " + b);
        }
        return List.of(new TensorSpec(Shape.of(geo.n(), geo.cout(), geo.hOut(), geo.wOut()), in.get(0).dtype()));
    }

    /** Validates x and weight against the attributes and returns the geometry. */
    ConvGeometry geometry(TensorSpec x, TensorSpec w) {
        checkAttributes();
        OpException.check(x.shape().rank() == 4 && x.dtype().isFloating(),
                "input x must be a float [N, Cin, H, W], got " + x);
        OpException.check(w.shape().rank() == 4 && w.dtype() == DType.F32,
                "weight must be f32 [Cout, Cin/groups, kh, kw], got " + w);
        Shape xs = x.shape();
        Shape ws = w.shape();
        int cin = xs.dim(1);
        int cout = ws.dim(0);
        OpException.check(cin % groups == 0,
                "input channels " + cin + " are not divisible by groups " + groups);
        OpException.check(cout % groups == 0,
                "output channels " + cout + " (weight dim 0) are not divisible by groups " + groups);
        OpException.check(ws.dim(1) == cin / groups, "weight " + ws + " has " + ws.dim(1)
                + " input channels per group, but x " + xs + " with groups " + groups + " needs " + cin / groups);
        OpException.check(ws.dim(2) > 0 && ws.dim(3) > 0 && cout > 0, "weight " + ws + " is empty");
        ConvGeometry geo = ConvGeometry.of(this, xs.dim(0), cin, xs.dim(2), xs.dim(3), cout, ws.dim(2), ws.dim(3));
        OpException.check(geo.hOut() > 0 && geo.wOut() > 0, "empty output " + geo.hOut() + "x" + geo.wOut()
                + ": input " + xs.dim(2) + "x" + xs.dim(3) + " with padding " + padH + "," + padW
                + " is smaller than the dilated kernel " + ((ws.dim(2) - 1) * dilationH + 1) + "x"
                + ((ws.dim(3) - 1) * dilationW + 1));
        return geo;
    }

    void checkAttributes() {
        OpException.check(strideH >= 1 && strideW >= 1, "stride must be >= 1, got " + strideH + "," + strideW);
        OpException.check(dilationH >= 1 && dilationW >= 1, "dilation must be >= 1, got " + dilationH + "," + dilationW);
        OpException.check(padH >= 0 && padW >= 0, "padding must be >= 0, got " + padH + "," + padW);
        OpException.check(groups >= 1, "groups must be >= 1, got " + groups);
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dy = gradOut.get(0);
        Value x = node.input(0);
        Value w = node.input(1);
        Shape xs = x.spec().shape();
        Shape ws = w.spec().shape();
        // Note [Filter gradient first]: dW before dX, so x (often a value recomputed for this op
        // alone) can be freed before dX is allocated instead of living beside it
        Value dw = g.apply1(new Conv2dBackwardFilter(this, ws.dim(2), ws.dim(3)), x, dy);
        List<Value> grads = new ArrayList<>();
        grads.add(g.apply1(new Conv2dBackwardData(this, xs.dim(2), xs.dim(3)), dy, w));
        grads.add(dw);
        if (node.inputs().size() == 3) {
            grads.add(g.apply1(new BiasGrad(), dy));
        }
        return grads;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        ConvGeometry geo = geometry(in.get(0), in.get(1));
        long biasAdds = in.size() == 3 ? (long) geo.n() * geo.cout() * geo.outPlane() : 0;
        return 2 * geo.macs() + biasAdds;
    }

    /** The gather buffer of the GEMM forward kernel when it batches small output planes over images (heap scratch). */
    @Override
    public long workspaceBytes(List<TensorSpec> in) {
        return 4L * ConvGemmKernels.forwardScratchFloats(geometry(in.get(0), in.get(1)));
    }

    /** Geometry of a run from its views (the op was validated when it was applied). */
    ConvGeometry geometry(RefView x, RefView w) {
        Shape xs = x.shape();
        Shape ws = w.shape();
        return ConvGeometry.of(this, xs.dim(0), xs.dim(1), xs.dim(2), xs.dim(3), ws.dim(0), ws.dim(2), ws.dim(3));
    }

    /** Reference kernel: in = {x, weight[, bias]}, out = {y}. */
    public static void reference(Conv2d op, RefView[] in, RefView[] out) {
        forward(op, in, out, null);
    }

    /** {@code y = conv(act(x))} on the reference kernels (act null: none; ActConv2d passes its activation). */
    static void forward(Conv2d op, RefView[] in, RefView[] out, org.leanseg.ops.elementwise.Activation.Kind act) {
        ConvGeometry geo = op.geometry(in[0], in[1]);
        RefView bias = in.length == 3 ? in[2] : null;
        RefView w = in[1].roundedTo(in[0].spec().dtype()); // Note [Mixed precision]: 16-bit operands
        if (geo.depthwise()) {
            DepthwiseKernels.forward(geo, in[0], w, bias, out[0], act);
        } else {
            ConvGemmKernels.forward(geo, in[0], w, bias, out[0], act);
        }
    }
}
