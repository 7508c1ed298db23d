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
 * ReLU/ReLU6 fused into a convolution's input: {@code y = conv(act(z), w[, b])}, as PaddlePaddle's
 * fuse_relu_before_depthwise_conv does for depthwise convolutions. Two variants, by the conv's
 * groups: depthwise ({@code relu_depthwise_conv2d}: groups == input channels, weight [C·m, 1, kh, kw])
 * and dense ({@code relu_conv2d}: groups 1, Note [Activation into a dense convolution]). Inputs:
 * the pre-activation z [N, C, H, W], weight and optional bias; output as {@link Conv2d}. The
 * activation is applied to each gathered input row (or packed im2col panel) on the fly, so act(z)
 * never exists as a tensor and only z is kept for backward (MobileNetV2's BN → ReLU6 → depthwise
 * and → projection, Xception's ReLU → separable conv, the decoder's BN → ReLU → 3x3 convolutions).
 *
 * <p>Backward: {@code dA = conv2d_backward_data(dY, w)}; {@code dZ = dA} where 0 < z < cap, else 0
 * ({@link ActivationBackward} on z: the pass mask from z equals the one from act(z), since act(z)
 * lies strictly inside (0, cap) exactly where z does); {@code dW} from {@link ActConv2dBackwardFilter},
 * which re-applies the activation on the fly. z is typically an in-place BN's output, which that
 * BN's backward reads too: see Note [In-place BN backward]. Checked by {@code InPlaceOpsTest}.
 */
public record ActConv2d(Activation.Kind act, Conv2d conv) implements Op {
    /*
     * Note [Activation into a dense convolution]
     * A dense convolution that is the only kind of reader of a ReLU's output (the decoder's BN → ReLU
     * → 3x3 conv and → classifier, MobileNetV2's BN → ReLU6 → projection) reads the BN's output z and
     * applies the activation while packing its im2col panels (forward) and its filter gradient's
     * panels, so act(z) is never a tensor: z is kept anyway for the in-place BN's backward (Note
     * [In-place BN backward]), and act(z) beside it was one more tensor of the same size at each
     * such convolution's forward and filter gradient. The cost is one max (and min) per packed
     * element, well under 1% of the convolution. Only devices whose table cell runs the dense
     * variant natively get the rewrite (StepPasses.forDevice): the reference backend today.
     */

    /** The weights, rounded to the activations' 16-bit type (Note [Mixed precision]). */
    @Override
    public int[] roundedOperands() {
        return new int[] {1};
    }

    @Override
    public String name() {
        return (act == Activation.Kind.RELU ? "relu_" : "relu6_") + (depthwise() ? "depthwise_conv2d" : "conv2d");
    }

    /** The depthwise variant (groups > 1, which {@link #infer} requires to be the input channels); else dense, groups 1. */
    public boolean depthwise() {
        return conv.groups() > 1;
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        List<TensorSpec> out = conv.infer(in);
        ConvGeometry geo = conv.geometry(in.get(0), in.get(1));
        OpException.check(conv.groups() == 1 || geo.depthwise(), "needs a dense (groups 1) or depthwise (groups == input channels)"
                + " convolution, got groups " + conv.groups() + " for " + geo.cin() + " channels");
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
        Value dw = g.apply1(new ActConv2dBackwardFilter(act, new Conv2dBackwardFilter(conv, ws.dim(2), ws.dim(3))), z, dy);
        List<Value> grads = new ArrayList<>();
        Value dA = g.apply1(new Conv2dBackwardData(conv, xs.dim(2), xs.dim(3)), dy, w);
        grads.add(g.apply1(new ActivationBackward(act), z, dA));
        grads.add(dw);
        if (node.inputs().size() == 3) {
            grads.add(g.apply1(new BiasGrad(), dy));
        }
        return grads;
    }

    /** The dense variant's forward gather buffer ({@link Conv2d#workspaceBytes}); 0 for depthwise. */
    @Override
    public long workspaceBytes(List<TensorSpec> in) {
        return conv.workspaceBytes(in);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return conv.flops(in) + in.get(0).shape().numel();
    }

    /** Reference kernel: in = {z, weight[, bias]}, out = {y}. */
    public static void reference(ActConv2d op, RefView[] in, RefView[] out) {
        Conv2d.forward(op.conv, in, out, op.act);
    }
}
