package org.leanseg.memory.recompute;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.passes.Recompute;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.GraphPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.tensor.TensorSpec;

/**
 * {@code auto-greedy:<bytes>}: cheap recomputations that make the step's plan fit a budget, greedily. The
 * candidates are the insides of the stage groups (what {@code stages} recomputes, one group at a
 * time); each costs its forward FLOPs and saves the bytes it takes off the forward/backward
 * boundary ({@link Recompute#savedBytes}). Candidates are taken in order of FLOPs per byte saved,
 * and the shortest prefix of that order whose plan (planned peak: activation arena + persistent +
 * workspace, as {@link MemoryReport#plannedPeakBytes}) fits is found by bisection over whole plans.
 * Each trial is planned as the step builder plans the step it will be ({@link GraphPlan#of}, Note
 * [One in-place rule], the builder's workspace function), so the chosen step fits as planned.
 * With every candidate taken the choice is exactly {@code stages}; when even that does not fit, a
 * {@link BudgetException} says by how much.
 *
 * <pre>{@code
 * Set<Node> chosen = AutoRecompute.choose(stepGraph, cheapOps, trials, ByteSize.parse("6GiB"));
 * }</pre>
 * Check: {@code mvn -q test -Dtest=RecomputePolicyTest}.
 */
final class AutoRecompute {
    private AutoRecompute() {
    }

    /** One candidate: a stage group's inside, its recompute FLOPs and the boundary bytes it saves. */
    record Unit(String stage, Set<Node> nodes, long flops, long savedBytes) {
        double flopsPerByte() {
            return savedBytes <= 0 ? Double.POSITIVE_INFINITY : (double) flops / savedBytes;
        }
    }

    static Set<Node> choose(Graph g, Set<Node> base, Trials trials, ByteSize budget) {
        List<Node> schedule = DeadCode.schedule(g);
        Segments segments = Segments.byStage(g, schedule);
        List<Unit> units = units(segments, schedule, base);
        if (report(g, chosen(segments, base, units, 0), trials).plannedPeakBytes() <= budget.bytes()) {
            return base;
        }
        MemoryReport all = report(g, chosen(segments, base, units, units.size()), trials);
        if (all.plannedPeakBytes() > budget.bytes()) {
            throw new BudgetException(budget, all);
        }
        int lo = 0;                // does not fit
        int hi = units.size();     // fits
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (report(g, chosen(segments, base, units, mid), trials).plannedPeakBytes() <= budget.bytes()) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        return chosen(segments, base, units, hi);
    }

    /** The stage groups' insides, cheapest FLOPs per saved byte first. */
    static List<Unit> units(Segments segments, List<Node> schedule, Set<Node> base) {
        long before = Recompute.savedBytes(schedule, base);
        List<Unit> units = new ArrayList<>();
        for (Map.Entry<Object, Set<Node>> e : segments.interior().entrySet()) {
            long flops = 0;
            for (Node n : e.getValue()) {
                if (!base.contains(n)) {
                    List<TensorSpec> specs = n.inputs().stream().map(v -> v.spec()).toList();
                    flops += n.op().recomputeOp().flops(specs);
                }
            }
            long saved = before - Recompute.savedBytes(schedule, segments.withBase(base, e.getValue()));
            units.add(new Unit(e.getKey().toString(), e.getValue(), flops, saved));
        }
        units.sort(Comparator.comparingDouble(Unit::flopsPerByte));
        return units;
    }

    /** The base choice with the first {@code count} units (Note [Checkpoints stay kept]). */
    private static Set<Node> chosen(Segments segments, Set<Node> base, List<Unit> units, int count) {
        return segments.withBase(base, Segments.union(units.subList(0, count).stream().map(Unit::nodes).toList()));
    }

    /** The memory report of {@code g} with {@code chosen} recomputed, as {@code leanseg plan} would print it. */
    static MemoryReport report(Graph g, Set<Node> chosen, Trials trials) {
        return trials.plan(g, chosen).report();
    }
}
