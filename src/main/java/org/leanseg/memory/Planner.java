package org.leanseg.memory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;

/**
 * Lifetimes to offsets: greedy best fit (TFLite's arena planners). Buffers are placed in an order;
 * each takes the smallest gap between already-placed buffers whose lifetimes overlap its own, or the
 * end of the arena. The order is "greedy by size" (largest first); when that leaves the arena above
 * the lower bound, "greedy by breadth" (the buffers live at the most crowded steps first) is tried
 * too and the smaller arena kept: on Xception-65 training steps it reaches the lower bound where
 * size order loses 2-7 % (docs/benchmarks.md).
 *
 * <pre>{@code
 * MemoryPlan p = Planner.plan(stepGraph, DeadCode.schedule(stepGraph));
 * p.arenaBytes(); p.lowerBoundBytes();
 * }</pre>
 * Check: {@code mvn -q test -Dtest=PlannerTest+StepPlanInvariantsTest}.
 */
public final class Planner {
    /** Offsets are multiples of this (cuDNN and vector loads want 256-byte alignment). */
    public static final long ALIGN = 256;

    private Planner() {
    }

    /** Plans the graph's inputs and activations over {@code schedule} (the graph's nodes that run), in place where allowed. */
    public static MemoryPlan plan(Graph g, List<Node> schedule) {
        return plan(g, schedule, true);
    }

    /** As {@link #plan(Graph, List)}; {@code inPlace} false gives every value its own buffer (for A/B runs). */
    public static MemoryPlan plan(Graph g, List<Node> schedule, boolean inPlace) {
        List<Value> planned = new ArrayList<>();
        for (Value v : g.values()) {
            if (v.role() == Role.INPUT || v.role() == Role.ACTIVATION) {
                planned.add(v);
            }
        }
        return plan(schedule, planned, g.outputs(), inPlace);
    }

    /** Plans {@code values} (inputs and activations) over {@code schedule}; {@code outputs} live to the end. */
    public static MemoryPlan plan(List<Node> schedule, List<Value> values, List<Value> outputs) {
        return plan(schedule, values, outputs, true);
    }

    /** Lifetimes, in-place aliases, then offsets of the buffers by greedy best fit, largest first. */
    public static MemoryPlan plan(List<Node> schedule, List<Value> values, List<Value> outputs, boolean inPlace) {
        List<Lifetime> valueLifetimes = lifetimes(schedule, values, outputs);
        Map<Value, Value> aliases = inPlace ? InPlace.aliases(schedule, valueLifetimes) : Map.of();
        List<Lifetime> buffers = InPlace.buffers(valueLifetimes, aliases);
        long[] live = liveBytes(buffers, schedule.size());
        long lowerBound = 0;
        for (long l : live) {
            lowerBound = Math.max(lowerBound, l);
        }
        List<Lifetime> bySize = new ArrayList<>(buffers);
        bySize.sort(Comparator.comparingLong(Lifetime::bytes).reversed().thenComparingInt(Lifetime::first));
        Map<Value, Long> offsets = place(bySize);
        long arena = arena(buffers, offsets);
        if (arena > lowerBound) {
            Map<Value, Long> breadth = place(byBreadth(buffers, live));
            long arenaBreadth = arena(buffers, breadth);
            if (arenaBreadth < arena) {
                offsets = breadth;
                arena = arenaBreadth;
            }
        }
        Map<Value, Long> chosen = offsets;
        aliases.forEach((member, root) -> chosen.put(member, chosen.get(root)));
        return new MemoryPlan(chosen, buffers, aliases, arena, lowerBound);
    }

    private static long arena(List<Lifetime> buffers, Map<Value, Long> offsets) {
        long arena = 0;
        for (Lifetime b : buffers) {
            arena = Math.max(arena, offsets.get(b.value()) + align(b.bytes()));
        }
        return arena;
    }

    /**
     * TFLite's "greedy by breadth" order (Pisarchyk and Lee 2020): steps by live bytes, most first;
     * each buffer comes with the first step of that order it is live at, largest first among them.
     */
    private static List<Lifetime> byBreadth(List<Lifetime> buffers, long[] live) {
        Integer[] steps = new Integer[live.length];
        for (int i = 0; i < steps.length; i++) {
            steps[i] = i;
        }
        java.util.Arrays.sort(steps, Comparator.comparingLong((Integer i) -> live[i]).reversed().thenComparingInt(i -> i));
        int[] rank = new int[live.length];
        for (int r = 0; r < steps.length; r++) {
            rank[steps[r]] = r;
        }
        Map<Lifetime, Integer> first = new IdentityHashMap<>();
        for (Lifetime b : buffers) {
            int best = Integer.MAX_VALUE;
            for (int t = b.first(); t <= Math.min(b.last(), live.length - 1); t++) {
                best = Math.min(best, rank[t]);
            }
            first.put(b, best);
        }
        List<Lifetime> order = new ArrayList<>(buffers);
        order.sort(Comparator.comparingInt((Lifetime b) -> first.get(b)).thenComparing(Comparator.comparingLong(Lifetime::bytes).reversed())
                .thenComparingInt(Lifetime::first));
        return order;
    }

    /** Best fit in the given order: each buffer takes the smallest gap between placed buffers live at the same time. */
    private static Map<Value, Long> place(List<Lifetime> order) {
        Map<Value, Long> offsets = new IdentityHashMap<>();
        List<Lifetime> placed = new ArrayList<>();
        for (Lifetime lt : order) {
            long size = align(lt.bytes());
            List<long[]> busy = new ArrayList<>();
            for (Lifetime p : placed) {
                if (p.overlaps(lt)) {
                    long o = offsets.get(p.value());
                    busy.add(new long[] {o, o + align(p.bytes())});
                }
            }
            busy.sort(Comparator.comparingLong(a -> a[0]));
            long best = -1;
            long bestGap = Long.MAX_VALUE;
            long cursor = 0;
            for (long[] b : busy) {
                long gap = b[0] - cursor;
                if (gap >= size && gap < bestGap) {
                    best = cursor;
                    bestGap = gap;
                }
                cursor = Math.max(cursor, b[1]);
            }
            offsets.put(lt.value(), best >= 0 ? best : cursor);
            placed.add(lt);
        }
        return offsets;
    }

    public static long align(long bytes) {
        return (bytes + ALIGN - 1) / ALIGN * ALIGN;
    }

    static List<Lifetime> lifetimes(List<Node> schedule, List<Value> values, List<Value> outputs) {
        Map<Value, int[]> range = new IdentityHashMap<>();
        for (Value v : values) {
            range.put(v, new int[] {v.producer() == null ? 0 : Integer.MAX_VALUE, -1});
        }
        for (int step = 0; step < schedule.size(); step++) {
            Node n = schedule.get(step);
            for (Value o : n.outputs()) {
                int[] r = range.get(o);
                if (r != null) {
                    r[0] = Math.min(r[0], step);
                    r[1] = Math.max(r[1], step);
                }
            }
            for (Value in : n.inputs()) {
                int[] r = range.get(in);
                if (r != null) {
                    r[1] = Math.max(r[1], step);
                }
            }
        }
        for (Value o : outputs) {
            int[] r = range.get(o);
            if (r != null) {
                r[1] = schedule.size();
            }
        }
        List<Lifetime> result = new ArrayList<>();
        for (Value v : values) {
            int[] r = range.get(v);
            if (r[0] == Integer.MAX_VALUE) {
                continue; // produced by a pruned node
            }
            result.add(new Lifetime(v, r[0], Math.max(r[0], r[1]), v.bytes()));
        }
        return result;
    }

    /** Most aligned bytes live at one step: no placement can use less. */
    static long lowerBound(List<Lifetime> lifetimes, int steps) {
        long max = 0;
        for (long live : liveBytes(lifetimes, steps)) {
            max = Math.max(max, live);
        }
        return max;
    }

    /** Aligned bytes live at each step 0..steps (the last entry: graph outputs kept past the schedule). */
    public static long[] liveBytes(List<Lifetime> lifetimes, int steps) {
        long[] live = new long[steps + 1];
        for (Lifetime lt : lifetimes) {
            live[lt.first()] += align(lt.bytes());
            if (lt.last() + 1 <= steps) {
                live[lt.last() + 1] -= align(lt.bytes());
            }
        }
        for (int i = 1; i <= steps; i++) {
            live[i] += live[i - 1];
        }
        return live;
    }
}
