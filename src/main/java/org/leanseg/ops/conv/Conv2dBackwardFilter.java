package org.leanseg.ops.conv;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Gradient of {@link Conv2d} with respect to its weight (PyTorch's {@code conv2d_weight}):
 * {@code dW = sum over the batch of dY * im2col(x)^T}. Inputs: x f32 [N, Cin, H, W], dY f32
 * [N, Cout, Hout, Wout]. Output dW [Cout, Cin/groups, kh, kw]. Appended by {@link Conv2d#backward};
 * has no backward itself.
 */
public record Conv2dBackwardFilter(int strideH, int strideW, int padH, int padW, int dilationH, int dilationW,
                                   int groups, int kh, int kw) implements Op {

    public Conv2dBackwardFilter(Conv2d fwd, int kh, int kw) {
        this(fwd.strideH(), fwd.strideW(), fwd.padH(), fwd.padW(), fwd.dilationH(), fwd.dilationW(), fwd.groups(), kh, kw);
    }

    /** The forward convolution's attributes. */
    public Conv2d forward() {
        return new Conv2d(strideH, strideW, padH, padW, dilationH, dilationW, groups);
    }

    @Override
    public String name() {
        return "conv2d_backward_filter";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 2, "takes x and dY, got " + in.size() + " inputs");
        TensorSpec x = in.get(0);
        TensorSpec dy = in.get(1);
        OpException.check(dy.shape().rank() == 4 && dy.dtype().isFloating(), "dY must be a float [N, Cout, Hout, Wout], got " + dy);
        OpException.check(x.shape().rank() == 4, "x must be [N, Cin, H, W], got " + x);
        Shape ds = dy.shape();
        Shape xs = x.shape();
        OpException.check(groups >= 1 && xs.dim(1) % groups == 0, "input channels " + xs.dim(1) + " are not divisible by groups " + groups);
        TensorSpec w = TensorSpec.f32(ds.dim(1), xs.dim(1) / groups, kh, kw);
        ConvGeometry geo = forward().geometry(x, w);
        OpException.check(ds.dim(0) == xs.dim(0) && geo.hOut() == ds.dim(2) && geo.wOut() == ds.dim(3),
                "dY " + ds + " does not match the output [" + xs.dim(0) + ", " + ds.dim(1) + ", " + geo.hOut() + ", "
                        + geo.wOut() + "] of x " + xs);
        return List.of(w);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        Shape ds = in.get(1).shape();
        return 2L * ds.numel() * (in.get(0).shape().dim(1) / groups) * kh * kw;
    }

    /** Reference kernel: in = {x, dY}, out = {dW}. */
    public static void reference(Conv2dBackwardFilter op, RefView[] in, RefView[] out) {
        ConvGeometry geo = op.forward().geometry(in[0], out[0]);
        if (geo.depthwise()) {
            DepthwiseKernels.backwardFilter(geo, in[0], in[1], out[0]);
        } else {
            ConvGemmKernels.backwardFilter(geo, in[0], in[1], out[0]);
        }
    }
}
