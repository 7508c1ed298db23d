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
 * Lifetimes to offsets: greedy by size with best fit (TFLite's "greedy by size" arena planner).
 * Values are placed largest first; each takes the smallest gap between already-placed values
 * whose lifetimes overlap its own, or the end of the arena.
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
        Map<Value, Long> offsets = place(buffers);
        long arena = 0;
        for (Lifetime b : buffers) {
            arena = Math.max(arena, offsets.get(b.value()) + align(b.bytes()));
        }
        aliases.forEach((member, root) -> offsets.put(member, offsets.get(root)));
        return new MemoryPlan(offsets, buffers, aliases, arena, lowerBound(buffers, schedule.size()));
    }

    /** Best fit: each buffer, largest first, takes the smallest gap between placed buffers live at the same time. */
    private static Map<Value, Long> place(List<Lifetime> buffers) {
        List<Lifetime> bySize = new ArrayList<>(buffers);
        bySize.sort(Comparator.comparingLong(Lifetime::bytes).reversed().thenComparingInt(Lifetime::first));
        Map<Value, Long> offsets = new IdentityHashMap<>();
        List<Lifetime> placed = new ArrayList<>();
        for (Lifetime lt : bySize) {
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
