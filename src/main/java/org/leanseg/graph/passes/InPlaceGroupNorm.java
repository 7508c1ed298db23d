package org.leanseg.graph.passes;

import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.ops.norm.GroupNorm;
import org.leanseg.ops.norm.GroupNormInPlace;

/**
 * Forward rewrite (before autograd): a GroupNorm whose input nothing else reads becomes
 * {@link GroupNormInPlace}, so its input dies there and its output takes the input's buffer; see
 * Note [In-place GN backward]. Layers whose γ is in {@code stock} (the γ guard failed for them) stay
 * stock GroupNorm and keep their input. The GN counterpart of {@link InPlaceBatchNorm}.
 *
 * <pre>{@code
 * Rebuild.Result r = InPlaceGroupNorm.apply(forwardGraph, Set.of());
 * }</pre>
 * Check: {@code mvn -q test -Dtest=GroupNormInPlaceTest}.
 */
public final class InPlaceGroupNorm {
    private InPlaceGroupNorm() {
    }

    public static Rebuild.Result apply(Graph g, Set<Variable> stock) {
        return Rebuild.run(g, (out, n, in) -> {
            if (!eligible(n, stock)) {
                return null;
            }
            return out.apply(new GroupNormInPlace((GroupNorm) n.op()), in.toArray(new Value[0]));
        });
    }

    static boolean eligible(Node n, Set<Variable> stock) {
        return n.op() instanceof GroupNorm
                && n.input(0).producer() != null && n.input(0).users().size() == 1
                && !stock.contains(n.input(1).variable());
    }
}
