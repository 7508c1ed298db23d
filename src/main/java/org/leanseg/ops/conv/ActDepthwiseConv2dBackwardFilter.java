package org.leanseg.ops.conv;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.TensorSpec;

/**
 * Filter gradient of {@link ActDepthwiseConv2d}: {@code dW = conv2d_backward_filter(act(z), dY)}
 * with the activation applied to each gathered row of z on the fly. Inputs {@code (z, dY)},
 * output dW. Has no backward of its own.
 */
public record ActDepthwiseConv2dBackwardFilter(Activation.Kind act, Conv2dBackwardFilter filter) implements Op {
    @Override
    public String name() {
        return act == Activation.Kind.RELU ? "relu_depthwise_conv2d_backward_filter" : "relu6_depthwise_conv2d_backward_filter";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        List<TensorSpec> out = filter.infer(in);
        OpException.check(filter.groups() == in.get(0).shape().dim(1), "needs a depthwise convolution, got groups "
                + filter.groups() + " for " + in.get(0).shape().dim(1) + " channels");
        return out;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return filter.flops(in) + in.get(0).shape().numel();
    }

    /** Reference kernel: in = {z, dY}, out = {dW}. */
    public static void reference(ActDepthwiseConv2dBackwardFilter op, RefView[] in, RefView[] out) {
        ConvGeometry geo = op.filter.forward().geometry(in[0], out[0]);
        DepthwiseKernels.backwardFilter(geo, in[0], in[1], out[0], op.act);
    }
}
