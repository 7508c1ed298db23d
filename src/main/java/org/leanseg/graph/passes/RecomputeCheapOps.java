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
import org.leanseg.ops.conv.ActConv2d;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.tensor.TensorSpec;

/**
 * Rewrite after autograd: cheap forward ops whose outputs backward reads are not kept; a copy of
 * each runs in the RECOMPUTE phase right before the first backward op that needs it. Cheap means
 * activations, adds, concats, bilinear resizes, and (Note [BN through a depthwise replay]) depthwise
 * convolutions with the training BN that follows one; never a dense convolution. A recomputation
 * is chosen, greedily from the loss backwards, only when it lowers the bytes kept across the
 * forward/backward boundary, for at most {@link #MAX_FLOPS_PER_BYTE} recompute FLOPs per byte it
 * takes off: a ReLU after an in-place BN is recomputed from the BN output that BN's backward keeps
 * anyway (Note [In-place BN backward]); the full-size upsampled logits from the small ones; a
 * concat together with the cheap ops that made its inputs; a residual add from its inputs.
 *
 * <p>Note [BN through a depthwise replay]. With in-place BN every BN layer keeps exactly one tensor,
 * its output y, so no rewrite that recomputes only elementwise ops can keep less. But a separable
 * conv's depthwise conv reads a tensor that backward keeps anyway (the fused ReLU·depthwise conv's
 * pre-activation, itself the previous BN's output), and a 3x3 depthwise conv costs 18 FLOP per output
 * element, the same order as BN's replay (7): so the BN right after a depthwise conv is replayed
 * ({@code BatchNorm.Mode.REPLAY}, running statistics untouched) on the replayed
 * depthwise conv, and its output is not kept. That is about 6 FLOP per byte saved, 0.4 % of a
 * Xception-65 step for 40 % of its saved bytes (docs/benchmarks.md). Both copies run the forward's
 * kernels on the forward's inputs, so training is bit-identical to keeping y.
 *
 * <pre>{@code
 * Rebuild.Result r = RecomputeCheapOps.apply(stepGraph); // after autograd, fused steps only
 * }</pre>
 * Check: {@code mvn -q test -Dtest=PassesTest+FusedTrainingTest+RecomputeTrainingTest}.
 */
public final class RecomputeCheapOps {
    /**
     * Most recompute FLOPs per byte a choice may cost: a 3x3 depthwise conv with its BN costs about 6,
     * elementwise ops under 2; a dense 1x1 conv over 64 channels would cost 32.
     */
    static final double MAX_FLOPS_PER_BYTE = 16;

    private RecomputeCheapOps() {
    }

    /** The ops that are always cheap to replay (elementwise and shape ops declare {@link Op.Replay#CHEAP}). */
    static boolean cheap(Op op) {
        return op.cheapToReplay() == Op.Replay.CHEAP;
    }

    /**
     * Whether forward node {@code n} is a recompute candidate by kind ({@link Op#cheapToReplay()}): a
     * {@link #cheap} op, a depthwise conv, or an op that is cheap after one (training BN, GN) whose
     * input a depthwise conv made (Note [BN through a depthwise replay]; GN replays itself, having no
     * running statistics).
     */
    static boolean cheapToReplay(Node n) {
        Op op = n.op();
        if (cheap(op)) {
            return op.mutatedInputs().length == 0;
        }
        if (depthwise(n)) {
            return true;
        }
        Node p = n.input(0).producer();
        return op.cheapToReplay() == Op.Replay.CHEAP_AFTER_DEPTHWISE && p != null && p.phase() == n.phase() && depthwise(p);
    }

    /** A depthwise convolution (plain or with a fused activation): one input channel per group. */
    static boolean depthwise(Node n) {
        if (n.op() instanceof ActConv2d a) {
            return a.depthwise();
        }
        return n.op() instanceof Conv2d c && c.groups() > 1 && c.groups() == n.input(0).spec().shape().dim(1);
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
            if (s < saved && flops(trial, chosen) <= MAX_FLOPS_PER_BYTE * (saved - s)) {
                chosen = trial;
                saved = s;
            }
        }
        return chosen;
    }

    /** Recompute FLOPs of the nodes of {@code trial} not in {@code chosen}. */
    private static long flops(Set<Node> trial, Set<Node> chosen) {
        long f = 0;
        for (Node n : trial) {
            if (!chosen.contains(n)) {
                List<TensorSpec> specs = n.inputs().stream().map(Value::spec).toList();
                f += n.op().recomputeOp().flops(specs);
            }
        }
        return f;
    }

    /** Adds n, and the candidate producers of its inputs that backward would otherwise newly keep. */
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
        return cheapToReplay(n) && Recompute.replayable(n)
                && n.outputs().stream().noneMatch(o -> g.outputs().contains(o) || o.role() != Role.ACTIVATION);
    }

    private static Set<Node> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }
}
