package org.leanseg.graph.passes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;

/**
 * Dead-code removal: the schedule keeps ops with side effects (they mutate an input: BN running
 * statistics, optimizer updates) and ops whose outputs something kept reads, in graph order.
 * Gradients autograd appended but nothing needs (of labels, of frozen inputs) disappear here.
 * Checked by {@code DeadCodeTest}.
 */
public final class DeadCode {
    private DeadCode() {
    }

    /** The nodes of {@code g} that must run, in execution order. */
    public static List<Node> schedule(Graph g) {
        Set<Value> needed = Collections.newSetFromMap(new IdentityHashMap<>());
        needed.addAll(g.outputs());
        List<Node> nodes = g.nodes();
        boolean[] keep = new boolean[nodes.size()];
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            boolean k = n.op().mutatedInputs().length > 0 || n.outputs().stream().anyMatch(needed::contains);
            if (k) {
                keep[i] = true;
                needed.addAll(n.inputs());
            }
        }
        List<Node> out = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            if (keep[i]) {
                out.add(nodes.get(i));
            }
        }
        return out;
    }
}
