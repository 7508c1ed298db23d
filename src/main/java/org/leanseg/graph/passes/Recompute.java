package org.leanseg.graph.passes;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.StageGroups;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;

/**
 * Recomputation as a rewrite after autograd: the outputs of chosen forward nodes are not read by
 * backward any more; before the first backward op that needs one, a copy of its node runs in the
 * RECOMPUTE phase (after the copies its own inputs need), and backward reads the copy. The forward
 * node still runs for the forward ops that read it. Which nodes to choose is a policy's business
 * ({@link RecomputeCheapOps}, and the policies of {@code memory.recompute} through
 * {@link RecomputeChoice}). A copy runs the node's {@link org.leanseg.ops.Op#recomputeOp()}: the
 * op itself, or for training BatchNorm a replay that leaves the running statistics alone, so they
 * are updated once per step whatever is recomputed; ops without one (optimizer updates) cannot be
 * chosen. Checked by {@code PassesTest} and {@code RecomputePolicyTest}.
 *
 * <pre>{@code
 * Rebuild.Result r = Recompute.apply(stepGraph, chosenForwardNodes);
 * Graph rewritten = r.graph();
 * }</pre>
 */
public final class Recompute {
    private Recompute() {
    }

    /** Rewrites {@code g} so that backward recomputes the outputs of {@code chosen}. */
    public static Rebuild.Result apply(Graph g, Set<Node> chosen) {
        for (Node n : chosen) {
            if (!replayable(n)) {
                throw new IllegalArgumentException("cannot recompute " + n + ": only forward ops with a side-effect-free replay");
            }
        }
        Set<Node> scheduled = Collections.newSetFromMap(new IdentityHashMap<>());
        scheduled.addAll(DeadCode.schedule(g));
        Map<Value, Value> map = new IdentityHashMap<>();
        Map<CopyKey, List<Value>> copies = new java.util.HashMap<>();
        return Rebuild.run(g, map, (out, n, in) -> {
            if (!scheduled.contains(n) || !n.phase().backwardSide()) {
                return null;
            }
            List<Value> ins = new ArrayList<>(in);
            boolean changed = false;
            for (int k = 0; k < ins.size(); k++) {
                Value v = n.input(k);
                if (v.producer() != null && chosen.contains(v.producer())) {
                    ins.set(k, copyOf(out, v, chosen, map, copies, n.stage()));
                    changed = true;
                }
            }
            return changed ? out.apply(n.op(), ins.toArray(new Value[0])) : null;
        });
    }

    /**
     * Note [One replay per stage]: a copy of a cheap elementwise or shape op ({@link Op.Replay#CHEAP})
     * serves the backward ops of one stage group ({@link StageGroups}: a backbone block, ASPP, the decoder) only; another group's backward gets its own copy, made
     * right before it. Sharing one copy kept it alive from the first reader to the last: Xception-65's
     * ReLU over block 1's output is read by the decoder's low-level projection (dW) and, ~1000 ops
     * later, by block 1's strided depthwise conv (dW), so at 1024x2048 a 128 MiB copy lived through
     * the whole backbone backward. Replaying a cheap op twice costs a few FLOPs per element (counted
     * with the other recompute FLOPs); costly replays (convolutions, BN after a depthwise conv, a
     * policy's segments) stay shared, as one copy of those is worth keeping. A copy's own inputs are
     * requested for the copy's stage group, so a chain of cheap ops (Xception's residual adds, each
     * recomputed from the previous) is copied at most once more per group, not once per reader. Both copies run the same
     * op on the same inputs, so the step computes the same bits.
     */
    private record CopyKey(Node producer, String region) {
        @Override
        public boolean equals(Object o) {
            return o instanceof CopyKey k && k.producer == producer && java.util.Objects.equals(k.region, region);
        }

        @Override
        public int hashCode() {
            return System.identityHashCode(producer) * 31 + java.util.Objects.hashCode(region);
        }
    }

    /** The recomputed counterpart of forward value {@code v} for the backward ops of stage {@code region}, appending its node's copy once. */
    private static Value copyOf(Graph out, Value v, Set<Node> chosen, Map<Value, Value> map, Map<CopyKey, List<Value>> copies,
                                String region) {
        Node p = v.producer();
        CopyKey key = new CopyKey(p, p.op().cheapToReplay() == Op.Replay.CHEAP ? StageGroups.group(region) : null);
        List<Value> made = copies.get(key);
        if (made == null) {
            List<Value> ins = new ArrayList<>();
            for (Value u : p.inputs()) {
                if (u.producer() != null && chosen.contains(u.producer())) {
                    ins.add(copyOf(out, u, chosen, map, copies, p.stage())); // read by this copy, in p's group
                } else {
                    ins.add(u.variable() != null ? out.variable(u.variable()) : map.get(u));
                }
            }
            try (var ph = out.phase(Phase.RECOMPUTE); var st = out.stage(p.stage())) {
                made = out.apply(p.op().recomputeOp(), ins.toArray(new Value[0]));
            }
            copies.put(key, made);
        }
        return made.get(v.outputIndex());
    }

    /** Whether {@code n} may be chosen: a forward node whose op has a side-effect-free replay. */
    public static boolean replayable(Node n) {
        return n.phase() == Phase.FORWARD && n.op().recomputeOp() != null;
    }

    /** Bytes of the forward values kept for backward when {@code chosen} are recomputed. */
    public static long savedBytes(List<Node> schedule, Set<Node> chosen) {
        long bytes = 0;
        for (Value v : kept(schedule, chosen)) {
            bytes += v.bytes();
        }
        return bytes;
    }

    /** Forward values backward reads directly or through recomputed copies, minus those recomputed. */
    public static Set<Value> kept(List<Node> schedule, Set<Node> chosen) {
        Set<Value> kept = Collections.newSetFromMap(new IdentityHashMap<>());
        Set<Value> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        Deque<Value> work = new ArrayDeque<>();
        for (Node n : schedule) {
            if (n.phase().backwardSide()) {
                for (Value v : n.inputs()) {
                    if (forwardValue(v) && seen.add(v)) {
                        work.push(v);
                    }
                }
            }
        }
        while (!work.isEmpty()) {
            Value v = work.pop();
            if (v.producer() != null && chosen.contains(v.producer())) {
                for (Value u : v.producer().inputs()) {
                    if (forwardValue(u) && seen.add(u)) {
                        work.push(u);
                    }
                }
            } else {
                kept.add(v);
            }
        }
        return kept;
    }

    static boolean forwardValue(Value v) {
        return v.role() == Role.INPUT || (v.role() == Role.ACTIVATION && v.producer().phase() == Phase.FORWARD);
    }
}
