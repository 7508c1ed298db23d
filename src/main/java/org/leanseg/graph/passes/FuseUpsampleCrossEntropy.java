package org.leanseg.graph.passes;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.loss.SoftmaxCrossEntropy;
import org.leanseg.ops.loss.UpsampleSoftmaxCrossEntropy;
import org.leanseg.ops.shape.Resize;

/**
 * Forward rewrite (before autograd, issue 11): a bilinear {@link Resize} whose output only
 * {@link SoftmaxCrossEntropy} nodes read (as their logits) is dropped, and those losses become
 * {@link UpsampleSoftmaxCrossEntropy} on the resize's input, so neither the full-resolution logits
 * nor their gradient exists (Note [Fused upsample loss]). In DeepLabV3+ that is the main head's
 * ×4 upsample and the aux head's ×16. Checked by {@code FuseUpsampleCrossEntropyTest}.
 *
 * <pre>{@code
 * Rebuild.Result r = FuseUpsampleCrossEntropy.apply(forwardAndLoss);
 * }</pre>
 */
public final class FuseUpsampleCrossEntropy {
    private FuseUpsampleCrossEntropy() {
    }

    public static Rebuild.Result apply(Graph g) {
        Set<Node> fused = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : g.nodes()) {
            if (fusible(g, n)) {
                fused.add(n);
            }
        }
        Map<Value, Value> lowRes = new IdentityHashMap<>(); // dropped resize output (old) -> its input (new)
        return Rebuild.run(g, (out, n, in) -> {
            if (fused.contains(n)) {
                lowRes.put(n.output(0), in.get(0));
                return Rebuild.DROP;
            }
            if (!(n.op() instanceof SoftmaxCrossEntropy ce) || !lowRes.containsKey(n.input(0))) {
                return null;
            }
            Resize resize = (Resize) n.input(0).producer().op();
            return out.apply(UpsampleSoftmaxCrossEntropy.of(resize, ce), lowRes.get(n.input(0)), in.get(1));
        });
    }

    /** A resize read only as the logits of cross-entropies, and not a graph output. */
    private static boolean fusible(Graph g, Node n) {
        if (!(n.op() instanceof Resize) || g.outputs().contains(n.output(0)) || n.output(0).users().isEmpty()) {
            return false;
        }
        Value up = n.output(0);
        for (Node u : up.users()) {
            if (!(u.op() instanceof SoftmaxCrossEntropy) || u.input(0) != up || u.input(1) == up) {
                return false;
            }
        }
        return true;
    }
}
