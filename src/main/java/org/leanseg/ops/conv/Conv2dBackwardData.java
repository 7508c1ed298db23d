package org.leanseg.ops.conv;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Gradient of {@link Conv2d} with respect to its input (PyTorch's {@code conv2d_input}, a transposed
 * convolution). Inputs: dY f32 [N, Cout, Hout, Wout], weight [Cout, Cin/groups, kh, kw].
 * Output dX [N, Cin, inH, inW]; {@code inH, inW} are needed because a strided convolution maps
 * several input sizes to one output size. Appended by {@link Conv2d#backward}; has no backward itself.
 * With {@code inPlace} ({@code conv2d_backward_data_inplace}, Note [Data gradient over its input
 * gradient], for stride-1 "same" dense convolutions with Cin = Cout only) dX may take dY's buffer.
 */
public record Conv2dBackwardData(int strideH, int strideW, int padH, int padW, int dilationH, int dilationW,
                                 int groups, int inH, int inW, boolean inPlace) implements Op {

    public Conv2dBackwardData(Conv2d fwd, int inH, int inW) {
        this(fwd.strideH(), fwd.strideW(), fwd.padH(), fwd.padW(), fwd.dilationH(), fwd.dilationW(), fwd.groups(), inH, inW, false);
    }

    /** The variant that may write dX over dY (same attributes otherwise). */
    public Conv2dBackwardData overItsInput() {
        return new Conv2dBackwardData(strideH, strideW, padH, padW, dilationH, dilationW, groups, inH, inW, true);
    }

    /** Whether {@link #overItsInput} computes this op for these inputs: dense, stride 1, Cin = Cout, dX the size of dY. */
    public boolean canRunOverItsInput(List<TensorSpec> in) {
        return BandedBackwardData.applies(forward().geometry(infer(in).get(0), in.get(1)));
    }

    @Override
    public int inPlaceInput(int output) {
        return inPlace ? 0 : -1;
    }

    /** The forward convolution's attributes. */
    public Conv2d forward() {
        return new Conv2d(strideH, strideW, padH, padW, dilationH, dilationW, groups);
    }

    /** The weights, rounded to the activations' 16-bit type (Note [Mixed precision]). */
    @Override
    public int[] roundedOperands() {
        return new int[] {1};
    }

    @Override
    public String name() {
        return inPlace ? "conv2d_backward_data_inplace" : "conv2d_backward_data";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 2, "takes dY and weight, got " + in.size() + " inputs");
        TensorSpec dy = in.get(0);
        TensorSpec w = in.get(1);
        OpException.check(dy.shape().rank() == 4 && dy.dtype().isFloating(), "dY must be a float [N, Cout, Hout, Wout], got " + dy);
        OpException.check(w.shape().rank() == 4, "weight must be [Cout, Cin/groups, kh, kw], got " + w);
        Shape ds = dy.shape();
        Shape ws = w.shape();
        OpException.check(ds.dim(1) == ws.dim(0), "dY channels " + ds.dim(1) + " differ from weight's output channels " + ws.dim(0));
        TensorSpec x = new TensorSpec(Shape.of(ds.dim(0), ws.dim(1) * groups, inH, inW), dy.dtype());
        ConvGeometry geo = forward().geometry(x, w);
        OpException.check(geo.hOut() == ds.dim(2) && geo.wOut() == ds.dim(3), "dY " + ds + " does not match the output "
                + geo.hOut() + "x" + geo.wOut() + " of input size " + inH + "x" + inW);
        OpException.check(!inPlace || BandedBackwardData.applies(geo), "the in-place data gradient needs a dense stride-1 convolution"
                + " with as many input as output channels and the output the input's size, got dY " + ds + ", weight " + ws);
        return List.of(x);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        Shape ds = in.get(0).shape();
        Shape ws = in.get(1).shape();
        return 2L * ds.numel() * ws.dim(1) * ws.dim(2) * ws.dim(3);
    }

    /** The column or gather buffer of the GEMM backward-data kernel (heap scratch); depthwise needs none. */
    @Override
    public long workspaceBytes(List<TensorSpec> in) {
        TensorSpec x = TensorSpec.f32(in.get(0).shape().dim(0), in.get(1).shape().dim(1) * groups, inH, inW);
        ConvGeometry geo = forward().geometry(x, in.get(1));
        return 4L * (inPlace ? BandedBackwardData.scratchFloats(geo) : ConvGemmKernels.backwardDataScratchFloats(geo));
    }

    /** Reference kernel: in = {dY, weight}, out = {dX}. */
    public static void reference(Conv2dBackwardData op, RefView[] in, RefView[] out) {
        ConvGeometry geo = op.forward().geometry(out[0], in[1]);
        RefView w = in[1].roundedTo(in[0].spec().dtype()); // Note [Mixed precision]: 16-bit operands
        if (op.inPlace) {
            BandedBackwardData.run(geo, in[0], w, out[0]);
        } else if (geo.depthwise()) {
            DepthwiseKernels.backwardData(geo, in[0], w, out[0]);
        } else {
            ConvGemmKernels.backwardData(geo, in[0], w, out[0]);
        }
    }
}
