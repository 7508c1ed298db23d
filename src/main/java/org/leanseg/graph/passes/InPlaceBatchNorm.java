package org.leanseg.graph.passes;

import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Variable;
import org.leanseg.ops.norm.BatchNorm;
import org.leanseg.ops.norm.BatchNormInPlace;

/**
 * Forward rewrite (before autograd): a training BatchNorm whose input nothing else reads becomes
 * {@link BatchNormInPlace}, so its input dies there and its output takes the input's buffer; see
 * Note [In-place BN backward]. Layers whose γ is in {@code stock} (the γ guard failed for them)
 * stay stock BatchNorm and keep their input. Checked by {@code PassesTest}.
 */
public final class InPlaceBatchNorm {
    private InPlaceBatchNorm() {
    }

    public static Rebuild.Result apply(Graph g, Set<Variable> stock) {
        return Rebuild.run(g, (out, n, in) -> {
            if (!eligible(n, stock)) {
                return null;
            }
            return out.apply(new BatchNormInPlace((BatchNorm) n.op()), in.toArray(new org.leanseg.graph.Value[0]));
        });
    }

    static boolean eligible(Node n, Set<Variable> stock) {
        return n.op() instanceof BatchNorm bn && bn.training()
                && n.input(0).producer() != null && n.input(0).users().size() == 1
                && !stock.contains(n.input(1).variable());
    }
}
