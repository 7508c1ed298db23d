package org.leanseg.ops.conv;

import java.util.ArrayList;
import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.tensor.TensorSpec;

/**
 * ReLU/ReLU6 fused into a depthwise convolution: {@code y = dwconv(act(z), w[, b])}, as
 * PaddlePaddle's fuse_relu_before_depthwise_conv does. Inputs: the pre-activation z
 * [N, C, H, W], weight [C·m, 1, kh, kw] and optional bias; output as {@link Conv2d}. The activation
 * is applied to each gathered input row on the fly, so act(z) never exists as a tensor and only z
 * is kept for backward (MobileNetV2's BN → ReLU6 → depthwise and Xception's ReLU → separable conv).
 *
 * <p>Backward: {@code dA = conv2d_backward_data(dY, w)}; {@code dZ = dA} where 0 < z < cap, else 0
 * ({@link ActivationBackward} on z: the pass mask from z equals the one from act(z), since act(z)
 * lies strictly inside (0, cap) exactly where z does); {@code dW} from {@link ActDepthwiseConv2dBackwardFilter},
 * which re-applies the activation on the fly. z is typically an in-place BN's output, which that
 * BN's backward reads too: see Note [In-place BN backward]. Checked by {@code InPlaceOpsTest}.
 */
public record ActDepthwiseConv2d(Activation.Kind act, Conv2d conv) implements Op {
    @Override
    public String name() {
        return act == Activation.Kind.RELU ? "relu_depthwise_conv2d" : "relu6_depthwise_conv2d";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        List<TensorSpec> out = conv.infer(in);
        ConvGeometry geo = conv.geometry(in.get(0), in.get(1));
        OpException.check(geo.depthwise(), "needs a depthwise convolution (groups == input channels), got groups "
                + conv.groups() + " for " + geo.cin() + " channels");
        return out;
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dy = gradOut.get(0);
        Value z = node.input(0);
        Value w = node.input(1);
        var xs = z.spec().shape();
        var ws = w.spec().shape();
        // Note [Filter gradient first] (Conv2d): dW before dX, so dy dies at dX
        Value dw = g.apply1(new ActDepthwiseConv2dBackwardFilter(act, new Conv2dBackwardFilter(conv, ws.dim(2), ws.dim(3))), z, dy);
        List<Value> grads = new ArrayList<>();
        Value dA = g.apply1(new Conv2dBackwardData(conv, xs.dim(2), xs.dim(3)), dy, w);
        grads.add(g.apply1(new ActivationBackward(act), z, dA));
        grads.add(dw);
        if (node.inputs().size() == 3) {
            grads.add(g.apply1(new BiasGrad(), dy));
        }
        return grads;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return conv.flops(in) + in.get(0).shape().numel();
    }

    /** Reference kernel: in = {z, weight[, bias]}, out = {y}. */
    public static void reference(ActDepthwiseConv2d op, RefView[] in, RefView[] out) {
        ConvGeometry geo = op.conv.geometry(in[0], in[1]);
        DepthwiseKernels.forward(geo, in[0], in[1].roundedTo(in[0].spec().dtype()), in.length == 3 ? in[2] : null, out[0], op.act);
    }
}
