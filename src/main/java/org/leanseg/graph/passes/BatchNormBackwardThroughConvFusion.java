package org.leanseg.graph.passes;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.ops.elementwise.ActivationBackward;
import org.leanseg.ops.norm.BatchNormBackward;
import org.leanseg.ops.norm.BatchNormBackwardThroughConv;

/**
 * Rewrite after autograd (right after {@link ActivationMaskFromInput}, with
 * {@code StepPasses.nativeOnly}): the chain
 * <pre>
 *   dA = conv2d_backward_data(dOut, W)       1x1, stride 1, groups 1; dA read only by the next op
 *   dz = relu_backward(y, dA)                 gate from y; dz read only by the next op
 *   (dX, dγ, dβ) = batch_norm_backward_from_output(y, γ, β, invStd, dz)
 * </pre>
 * becomes one {@link BatchNormBackwardThroughConv}{@code (y, γ, β, invStd, dOut, W)}, so dA and dz
 * are never stored (Note [BN backward through a 1x1 convolution]), where the convolution widens its
 * gradient at least {@link #WIDENING} times (K·8 ≤ C: the classifier, 21 → 256 channels): there a
 * 2·K-FLOP recomputation spares a C-channel tensor made from a K-channel one. MobileNetV2's
 * projections (16-32 → 96-192, 6x) would cost 2.6 GFLOP more at b8 512² (0.2% of the step) for no
 * lower peak under `none`, `stages` or `sqrt` (measured 2026-12-07), so they stay unfused. Check:
 * {@code mvn -q test -Dtest=BatchNormBackwardThroughConvTest}.
 */
public final class BatchNormBackwardThroughConvFusion {
    /** Least ratio C / K of a fused 1x1 convolution's input to output channels. */
    static final int WIDENING = 8;

    private BatchNormBackwardThroughConvFusion() {
    }

    public static Rebuild.Result apply(Graph g) {
        Map<Node, Node> dataOf = new IdentityHashMap<>(); // BN backward -> its conv data gradient
        Map<Node, Node> gateOf = new IdentityHashMap<>(); // BN backward -> its activation backward
        for (Node n : g.nodes()) {
            Node[] chain = chain(g, n);
            if (chain != null) {
                dataOf.put(n, chain[0]);
                gateOf.put(n, chain[1]);
            }
        }
        Map<Node, List<Value>> dataInputs = new IdentityHashMap<>();
        java.util.Set<Node> dropped = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        dropped.addAll(dataOf.values());
        dropped.addAll(gateOf.values());
        return Rebuild.run(g, (out, n, in) -> {
            if (dropped.contains(n)) {
                if (n.op() instanceof Conv2dBackwardData) {
                    dataInputs.put(n, List.copyOf(in));
                }
                return Rebuild.DROP;
            }
            Node data = dataOf.get(n);
            if (data == null) {
                return null;
            }
            ActivationBackward gate = (ActivationBackward) gateOf.get(n).op();
            List<Value> d = dataInputs.get(data);
            return out.apply(new BatchNormBackwardThroughConv(gate.kind()), in.get(0), in.get(1), in.get(2), in.get(3), d.get(0), d.get(1));
        });
    }

    /** {conv data gradient, activation backward} feeding BN backward n as above, or null. */
    private static Node[] chain(Graph g, Node n) {
        if (!(n.op() instanceof BatchNormBackward bn) || bn.source() != BatchNormBackward.Source.Y) {
            return null;
        }
        Value dz = n.input(4);
        Node gate = dz.producer();
        if (gate == null || !(gate.op() instanceof ActivationBackward) || !onlyReader(g, dz, n) || gate.input(0) != n.input(0)) {
            return null;
        }
        Value dA = gate.input(1);
        Node data = dA.producer();
        if (data == null || !(data.op() instanceof Conv2dBackwardData c) || !onlyReader(g, dA, gate) || c.inPlace()) {
            return null;
        }
        Conv2d f = c.forward();
        var w = data.input(1).spec().shape();
        boolean pointwise = w.dim(2) == 1 && w.dim(3) == 1 && f.groups() == 1 && f.strideH() == 1 && f.strideW() == 1
                && f.padH() == 0 && f.padW() == 0;
        // only where dA is at least WIDENING times the gradient it is made from (K·WIDENING ≤ C)
        return pointwise && (long) w.dim(0) * WIDENING <= w.dim(1) ? new Node[] {data, gate} : null;
    }

    private static boolean onlyReader(Graph g, Value v, Node reader) {
        return !g.outputs().contains(v) && v.users().size() == 1 && v.users().get(0) == reader;
    }
}
