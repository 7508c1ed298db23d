package org.leanseg.graph.passes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;

/**
 * Forward rewrite (before autograd): ReLU/ReLU6 whose output only depthwise convolutions read (as
 * their input) is dropped, and those convolutions become {@link ActConv2d} on the
 * pre-activation, which is then the only tensor kept (MobileNetV2's BN → ReLU6 → dw conv,
 * Xception's ReLU → separable conv). With {@code dense}, readers may also be dense (groups 1)
 * convolutions (Note [Activation into a dense convolution]: the decoder's BN → ReLU → 3x3 conv and
 * classifier, MobileNetV2's BN → ReLU6 → projection, the ASPP branches into their projection's
 * parts): run after {@link ConvOverConcatParts} for those. Checked by {@code PassesTest}.
 */
public final class FuseActivationConv {
    private FuseActivationConv() {
    }

    public static Rebuild.Result apply(Graph g, boolean dense) {
        Set<Node> fused = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : g.nodes()) {
            if (fusible(g, n, dense)) {
                fused.add(n);
            }
        }
        Map<Value, Value> preActivation = new IdentityHashMap<>(); // dropped activation output (old) -> its input (new)
        return Rebuild.run(g, (out, n, in) -> {
            if (fused.contains(n)) {
                preActivation.put(n.output(0), in.get(0));
                return Rebuild.DROP;
            }
            Value act = n.inputs().isEmpty() ? null : n.input(0);
            if (act == null || !preActivation.containsKey(act)) {
                return null;
            }
            Activation.Kind kind = ((Activation) act.producer().op()).kind();
            List<Value> ins = new ArrayList<>(in);
            ins.set(0, preActivation.get(act));
            return out.apply(new ActConv2d(kind, (Conv2d) n.op()), ins.toArray(new Value[0]));
        });
    }

    private static boolean fusible(Graph g, Node n, boolean dense) {
        if (!(n.op() instanceof Activation) || g.outputs().contains(n.output(0)) || n.output(0).users().isEmpty()) {
            return false;
        }
        Value a = n.output(0);
        for (Node u : a.users()) {
            boolean depthwise = u.op() instanceof Conv2d c && c.groups() == a.spec().shape().dim(1) && c.groups() > 1;
            boolean denseConv = dense && u.op() instanceof Conv2d c && c.groups() == 1;
            if (!(depthwise || denseConv) || u.input(0) != a || u.inputs().subList(1, u.inputs().size()).contains(a)) {
                return false;
            }
        }
        return true;
    }
}
