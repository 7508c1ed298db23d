package org.leanseg.ops.conv;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.TensorSpec;

/**
 * Filter gradient of {@link ActConv2d}: {@code dW = conv2d_backward_filter(act(z), dY)}
 * with the activation applied to each gathered row of z (depthwise) or packed im2col panel (dense)
 * on the fly. Inputs {@code (z, dY)},
 * output dW. Has no backward of its own.
 */
public record ActConv2dBackwardFilter(Activation.Kind act, Conv2dBackwardFilter filter) implements Op {
    @Override
    public String name() {
        return (act == Activation.Kind.RELU ? "relu_" : "relu6_") + (filter.groups() > 1 ? "depthwise_" : "") + "conv2d_backward_filter";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        List<TensorSpec> out = filter.infer(in);
        OpException.check(filter.groups() == 1 || filter.groups() == in.get(0).shape().dim(1), "needs a dense (groups 1) or depthwise"
                + " convolution, got groups " + filter.groups() + " for " + in.get(0).shape().dim(1) + " channels");
        return out;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return filter.flops(in) + in.get(0).shape().numel();
    }

    /** Reference kernel: in = {z, dY}, out = {dW}. */
    public static void reference(ActConv2dBackwardFilter op, RefView[] in, RefView[] out) {
        ConvGeometry geo = op.filter.forward().geometry(in[0], out[0]);
        if (geo.depthwise()) {
            DepthwiseKernels.backwardFilter(geo, in[0], in[1], out[0], op.act);
        } else {
            ConvGemmKernels.backwardFilter(geo, in[0], in[1], out[0], op.act);
        }
    }
}
