package org.leanseg.graph.passes;

import java.util.ArrayDeque;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.shape.Concat;
import org.leanseg.ops.shape.Resize;

/**
 * Rewrite after autograd: cheap forward ops (activations, adds, concats, bilinear resizes) whose
 * outputs backward reads are not kept; a copy of each runs in the RECOMPUTE phase right before the
 * first backward op that needs it. A recomputation is chosen, greedily from the loss backwards,
 * only when it lowers the bytes kept across the forward/backward boundary: a ReLU after an in-place
 * BN is recomputed from the BN output that BN's backward keeps anyway (Note [In-place BN backward]);
 * the full-size upsampled logits from the small ones; a concat together with the cheap ops that
 * made its inputs. Checked by {@code PassesTest} and the fused-training test.
 */
public final class RecomputeCheapOps {
    private RecomputeCheapOps() {
    }

    static boolean cheap(Op op) {
        return op instanceof Activation || op instanceof Add || op instanceof Concat || op instanceof Resize;
    }

    public static Rebuild.Result apply(Graph g) {
        return Recompute.apply(g, choose(g));
    }

    /** The forward nodes to recompute. */
    static Set<Node> choose(Graph g) {
        List<Node> schedule = DeadCode.schedule(g);
        Set<Node> chosen = identitySet();
        long saved = Recompute.savedBytes(schedule, chosen);
        for (int i = schedule.size() - 1; i >= 0; i--) {
            Node n = schedule.get(i);
            if (n.phase() != Phase.FORWARD || chosen.contains(n) || !candidate(g, n)) {
                continue;
            }
            Set<Node> trial = identitySet();
            trial.addAll(chosen);
            Set<Value> needed = Recompute.kept(schedule, chosen);
            addWithProducers(g, n, trial, needed);
            long s = Recompute.savedBytes(schedule, trial);
            if (s < saved) {
                chosen = trial;
                saved = s;
            }
        }
        return chosen;
    }

    /** Adds n, and the cheap producers of its inputs that backward would otherwise newly keep. */
    private static void addWithProducers(Graph g, Node n, Set<Node> trial, Set<Value> needed) {
        Deque<Node> work = new ArrayDeque<>();
        work.push(n);
        while (!work.isEmpty()) {
            Node m = work.pop();
            if (!trial.add(m)) {
                continue;
            }
            for (Value in : m.inputs()) {
                Node p = in.producer();
                if (p != null && !needed.contains(in) && p.phase() == Phase.FORWARD && candidate(g, p) && !trial.contains(p)) {
                    work.push(p);
                }
            }
        }
    }

    private static boolean candidate(Graph g, Node n) {
        return cheap(n.op()) && n.op().mutatedInputs().length == 0
                && n.outputs().stream().noneMatch(o -> g.outputs().contains(o) || o.role() != Role.ACTIVATION);
    }

    private static Set<Node> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }
}
