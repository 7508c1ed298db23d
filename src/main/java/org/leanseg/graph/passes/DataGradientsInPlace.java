package org.leanseg.graph.passes;

import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.conv.Conv2dBackwardData;
import org.leanseg.tensor.TensorSpec;

/**
 * Rewrite after autograd (the last one, after updates move into backward): a convolution data
 * gradient that is its dY's last reader, of a stride-1 "same" dense convolution with Cin = Cout,
 * becomes {@code conv2d_backward_data_inplace}, which the planner lets write dX over dY (Note [Data
 * gradient over its input gradient]). A reader of dY after it in node order keeps the plain op:
 * aliasing could not happen there. Only with {@code StepPasses.nativeOnly} (its kernel runs on the
 * reference backend only). Check: {@code mvn -q test -Dtest=InPlaceBackwardDataTest}.
 */
public final class DataGradientsInPlace {
    private DataGradientsInPlace() {
    }

    public static Rebuild.Result apply(Graph g) {
        Map<Node, Integer> position = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            position.put(n, position.size());
        }
        return Rebuild.run(g, (out, n, in) -> {
            if (!(n.op() instanceof Conv2dBackwardData op) || op.inPlace() || !lastReader(n, position)) {
                return null;
            }
            List<TensorSpec> specs = List.of(n.input(0).spec(), n.input(1).spec());
            if (!op.canRunOverItsInput(specs)) {
                return null;
            }
            return out.apply(op.overItsInput(), in.toArray(new Value[0]));
        });
    }

    /** Whether every other reader of n's dY comes before n, and dY is not a graph output. */
    private static boolean lastReader(Node n, Map<Node, Integer> position) {
        Value dy = n.input(0);
        if (dy.producer() == null || n.input(1) == dy) {
            return false;
        }
        for (Node u : dy.users()) {
            if (u != n && position.get(u) > position.get(n)) {
                return false;
            }
        }
        return true;
    }
}
