package org.leanseg.graph.passes;

import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.ops.Op;

/**
 * Forward rewrite (before autograd): a node whose op has an in-place variant
 * ({@link Op#inPlaceVariant()}: training BatchNorm, GroupNorm) and whose input nothing else reads
 * runs that variant, so its input dies there and its output takes the input's buffer; see
 * Note [In-place BN backward] and Note [In-place GN backward]. Layers named in {@code stock} (the
 * first of the variant's {@link Op#guardedInputs()}, γ, whose guard failed) stay stock and keep their
 * input. Checked by {@code PassesTest} and {@code GroupNormInPlaceTest}.
 *
 * <pre>{@code
 * Rebuild.Result r = InPlaceVariants.apply(forwardGraph, Set.of());
 * }</pre>
 */
public final class InPlaceVariants {
    private InPlaceVariants() {
    }

    public static Rebuild.Result apply(Graph g, Set<Variable> stock) {
        return Rebuild.run(g, (out, n, in) -> {
            Op variant = n.op().inPlaceVariant();
            if (variant == null || !eligible(n, variant, stock)) {
                return null;
            }
            return out.apply(variant, in.toArray(new Value[0]));
        });
    }

    private static boolean eligible(Node n, Op variant, Set<Variable> stock) {
        if (n.input(0).producer() == null || n.input(0).users().size() != 1) {
            return false;
        }
        int[] guarded = variant.guardedInputs();
        return guarded.length == 0 || !stock.contains(n.input(guarded[0]).variable());
    }
}
