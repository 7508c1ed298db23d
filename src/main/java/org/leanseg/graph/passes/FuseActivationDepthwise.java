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
import org.leanseg.ops.conv.ActDepthwiseConv2d;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Activation;

/**
 * Forward rewrite (before autograd): ReLU/ReLU6 whose output only depthwise convolutions read (as
 * their input) is dropped, and those convolutions become {@link ActDepthwiseConv2d} on the
 * pre-activation, which is then the only tensor kept (MobileNetV2's BN → ReLU6 → dw conv,
 * Xception's ReLU → separable conv). Checked by {@code PassesTest}.
 */
public final class FuseActivationDepthwise {
    private FuseActivationDepthwise() {
    }

    public static Rebuild.Result apply(Graph g) {
        Set<Node> fused = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : g.nodes()) {
            if (fusible(g, n)) {
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
            return out.apply(new ActDepthwiseConv2d(kind, (Conv2d) n.op()), ins.toArray(new Value[0]));
        });
    }

    private static boolean fusible(Graph g, Node n) {
        if (!(n.op() instanceof Activation) || g.outputs().contains(n.output(0)) || n.output(0).users().isEmpty()) {
            return false;
        }
        Value a = n.output(0);
        for (Node u : a.users()) {
            boolean depthwise = u.op() instanceof Conv2d c && c.groups() == a.spec().shape().dim(1) && c.groups() > 1;
            if (!depthwise || u.input(0) != a || u.inputs().subList(1, u.inputs().size()).contains(a)) {
                return false;
            }
        }
        return true;
    }
}
