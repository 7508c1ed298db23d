package org.leanseg.memory.recompute;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.Recompute;
import org.leanseg.graph.StageGroups;

/**
 * Checkpointing by segments of the forward pass (Chen et al. 2016, "Training Deep Nets with
 * Sublinear Memory Cost"): the scheduled forward nodes are split into segments; a value that a
 * forward node of another segment reads (a segment's output, a residual input, the low-level
 * features the decoder reads) is a checkpoint and is kept; the other values of a segment (its
 * inside) are recomputed in backward from the checkpoints, right before the segment's backward.
 * {@code stages} segments by stage group ({@link StageGroups}: each backbone block, ASPP, the
 * decoder, the aux head); {@code sqrt} cuts the forward order into about √n segments of about √n
 * ops, each cut moved within its window to where the fewest bytes cross it. The loss reads the
 * logits without making them a checkpoint: its backward runs first and the decoder's right after.
 *
 * <p>Note [Checkpoints stay kept]. Cheap-op recomputation (fused steps) may also recompute a value
 * that crosses a segment boundary, e.g. a residual add. When that add reads a segment's inside,
 * recomputing it would replay the whole segment early, during the next segment's backward, and
 * hold it until its own backward: chained back to the image, that is a second forward kept at
 * once. {@link #withBase} therefore keeps every crossing value whose recomputation would reach
 * into a recomputed inside.
 *
 * <pre>{@code
 * Segments s = Segments.byStage(stepGraph, DeadCode.schedule(stepGraph));
 * Set<Node> chosen = s.withBase(cheapOps, s.allInterior());   // what stages recomputes
 * }</pre>
 * Check: {@code mvn -q test -Dtest=RecomputePolicyTest}.
 */
final class Segments {
    private static final String LOSS = "loss";

    private final Graph graph;
    private final List<Node> forward;
    private final Map<Node, Object> segmentOf;

    private Segments(Graph graph, List<Node> forward, Map<Node, Object> segmentOf) {
        this.graph = graph;
        this.forward = forward;
        this.segmentOf = segmentOf;
    }

    /** The scheduled forward nodes in execution order. */
    static List<Node> forward(List<Node> schedule) {
        return schedule.stream().filter(n -> n.phase() == Phase.FORWARD).toList();
    }

    /** {@code stages}: one segment per stage group. */
    static Segments byStage(Graph g, List<Node> schedule) {
        List<Node> fwd = forward(schedule);
        Map<Node, Object> seg = new IdentityHashMap<>();
        for (Node n : fwd) {
            seg.put(n, StageGroups.group(n.stage()));
        }
        return new Segments(g, fwd, seg);
    }

    /** {@code sqrt}: about √n segments of the forward order. */
    static Segments sqrt(Graph g, List<Node> schedule) {
        List<Node> fwd = forward(schedule);
        int[] cuts = sqrtCuts(crossingBytes(fwd));
        Map<Node, Object> seg = new IdentityHashMap<>();
        int s = 0;
        for (int i = 0; i < fwd.size(); i++) {
            seg.put(fwd.get(i), s);
            if (s < cuts.length && cuts[s] == i) {
                s++;
            }
        }
        return new Segments(g, fwd, seg);
    }

    /** Whether a scheduled forward node of another segment (the loss excepted) reads {@code v}. */
    boolean crosses(Value v) {
        Object own = v.producer() == null ? null : segmentOf.get(v.producer());
        for (Node u : v.users()) {
            Object theirs = segmentOf.get(u);
            if (theirs != null && !theirs.equals(own) && !StageGroups.group(u.stage()).equals(LOSS)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Each segment's inside, in forward order: replayable nodes whose every output is an activation,
     * no graph output, and read by no forward node of another segment.
     */
    Map<Object, Set<Node>> interior() {
        Set<Value> outputs = identitySet();
        outputs.addAll(graph.outputs());
        Map<Object, Set<Node>> bySegment = new LinkedHashMap<>();
        for (Node n : forward) {
            boolean inside = Recompute.replayable(n);
            for (Value o : n.outputs()) {
                inside &= o.role() == Role.ACTIVATION && !outputs.contains(o) && !crosses(o);
            }
            if (inside) {
                bySegment.computeIfAbsent(segmentOf.get(n), k -> identitySet()).add(n);
            }
        }
        return bySegment;
    }

    /** Every segment's inside. */
    Set<Node> allInterior() {
        return union(interior().values());
    }

    /**
     * {@code insides} (some segments' insides) with the {@code base} choice added, less the base
     * nodes that make a crossing value whose recomputation would reach into {@code insides}
     * (Note [Checkpoints stay kept]).
     */
    Set<Node> withBase(Set<Node> base, Set<Node> insides) {
        Set<Node> chosen = identitySet();
        Set<Node> reaches = identitySet(); // chosen nodes whose replay needs an inside's replay
        for (Node n : forward) {
            boolean inside = insides.contains(n);
            if (!inside && !base.contains(n)) {
                continue;
            }
            boolean reach = inside;
            for (Value in : n.inputs()) {
                reach |= in.producer() != null && reaches.contains(in.producer());
            }
            if (!inside && reach && n.outputs().stream().anyMatch(this::crosses)) {
                continue; // a checkpoint: kept
            }
            chosen.add(n);
            if (reach) {
                reaches.add(n);
            }
        }
        for (Node n : base) {
            if (!segmentOf.containsKey(n)) {
                chosen.add(n); // not scheduled: harmless, keep the caller's choice as given
            }
        }
        return chosen;
    }

    /**
     * Bytes crossing a cut after each forward position: values made at or before it (step inputs
     * count as made before position 0) that a later forward node reads.
     */
    static long[] crossingBytes(List<Node> fwd) {
        Map<Node, Integer> position = new IdentityHashMap<>();
        for (int i = 0; i < fwd.size(); i++) {
            position.put(fwd.get(i), i);
        }
        long[] delta = new long[fwd.size() + 1];
        Map<Value, Integer> lastRead = new HashMap<>();
        for (int i = 0; i < fwd.size(); i++) {
            for (Value in : fwd.get(i).inputs()) {
                if (in.role() == Role.INPUT || in.role() == Role.ACTIVATION) {
                    lastRead.merge(in, i, Math::max);
                }
            }
        }
        lastRead.forEach((v, last) -> {
            int made = v.producer() == null ? 0 : position.getOrDefault(v.producer(), 0);
            if (last > made) {
                delta[made] += v.bytes();
                delta[last] -= v.bytes();
            }
        });
        long[] cross = new long[fwd.size()];
        long run = 0;
        for (int i = 0; i < fwd.size(); i++) {
            run += delta[i];
            cross[i] = run;
        }
        return cross;
    }

    /** Positions after which to cut: √n − 1 of them, each the cheapest within ±n/(4√n) of its ideal place. */
    static int[] sqrtCuts(long[] cross) {
        int n = cross.length;
        int k = (int) Math.max(1, Math.round(Math.sqrt(n)));
        int window = Math.max(0, n / (4 * k));
        List<Integer> cuts = new ArrayList<>();
        int previous = -1;
        for (int j = 1; j < k; j++) {
            int ideal = (int) ((long) j * n / k) - 1;
            int best = -1;
            for (int i = Math.max(previous + 1, ideal - window); i <= Math.min(n - 2, ideal + window); i++) {
                if (best < 0 || cross[i] < cross[best]
                        || (cross[i] == cross[best] && Math.abs(i - ideal) < Math.abs(best - ideal))) {
                    best = i;
                }
            }
            if (best >= 0) {
                cuts.add(best);
                previous = best;
            }
        }
        return cuts.stream().mapToInt(Integer::intValue).toArray();
    }

    static Set<Node> union(Iterable<Set<Node>> sets) {
        Set<Node> all = identitySet();
        for (Set<Node> s : sets) {
            all.addAll(s);
        }
        return all;
    }

    static <T> Set<T> identitySet() {
        return Collections.newSetFromMap(new IdentityHashMap<>());
    }
}
