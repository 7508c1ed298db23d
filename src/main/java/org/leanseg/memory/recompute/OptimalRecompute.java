package org.leanseg.memory.recompute;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.graph.passes.DeadCode;
import org.leanseg.graph.passes.Rebuild;
import org.leanseg.graph.passes.Recompute;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.GraphPlan;
import org.leanseg.memory.MemoryReport;
import org.leanseg.memory.Planner;

/**
 * {@code auto:<bytes>} (issue 11): the fewest recompute FLOPs whose planned peak fits the budget,
 * chosen exactly on the step's chain of checkpointable segments ({@link ChainDp}) for each of the
 * two segmentations the policies know ({@code stages}' stage groups and {@code sqrt}'s √n cuts),
 * each choice then planned as the step builder plans it ({@link GraphPlan#of}).
 *
 * <p>Note [Chain model of the planned peak]. The chain's numbers come from the plan with nothing
 * recomputed: window {@code i}'s peak is the most bytes live while segment {@code i}'s forward or
 * backward runs (a backward or replay op belongs to the latest segment whose forward values it
 * reads), plus persistent bytes, workspace and that plan's fragmentation; a recomputed segment
 * frees its {@link Recompute#savedBytes} in every later window and, conservatively, none in its
 * own. The planner's best-fit placement and Note [Checkpoints stay kept] make the real peak differ
 * a little from the model, so each choice is planned: over budget, the model's budget is lowered
 * by the excess and the chain solved again; under it with room, raised by the room (a model that
 * was too careful). The cheapest choice that fits as planned wins, and the greedy choice
 * ({@code auto-greedy}) is one of the candidates, so {@code auto} never costs more than it.
 *
 * <pre>{@code
 * Set<Node> chosen = OptimalRecompute.choose(stepGraph, cheapOps, trials, ByteSize.parse("1300MiB"));
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ChainDpTest,RecomputePolicyTest}.
 */
final class OptimalRecompute {
    private static final int TRIALS = 6;
    private static final long ROOM_BYTES = 1L << 20; // below this room a choice is not loosened further

    private OptimalRecompute() {
    }

    private record Candidate(Set<Node> chosen, MemoryReport report) {
    }

    static Set<Node> choose(Graph g, Set<Node> base, Trials trials, ByteSize budget) {
        List<Node> schedule = DeadCode.schedule(g);
        List<Candidate> fits = new ArrayList<>();
        MemoryReport leastPeak = null;
        for (Segments segments : List.of(Segments.byStage(g, schedule), Segments.sqrt(g, schedule))) {
            Set<Node> baseOnly = segments.withBase(base, Set.of());
            Rebuild.Result rebuilt = trials.rebuilt(g, baseOnly);
            GraphPlan none = GraphPlan.of(rebuilt.graph(), trials.workspace());
            if (none.report().plannedPeakBytes() <= budget.bytes()) {
                return baseOnly; // nothing to recompute
            }
            Candidate all = plan(g, segments.withBase(base, segments.allInterior()), trials);
            if (leastPeak == null || all.report.plannedPeakBytes() < leastPeak.plannedPeakBytes()) {
                leastPeak = all.report;
            }
            if (all.report.plannedPeakBytes() <= budget.bytes()) {
                fits.add(all);
                fits.addAll(solved(g, segments, schedule, base, trials, budget.bytes(), chain(segments, schedule, base, rebuilt, none)));
            }
        }
        if (fits.isEmpty()) {
            throw new BudgetException("auto", "every stage or every sqrt segment", budget, leastPeak);
        }
        try {
            Set<Node> greedy = AutoRecompute.choose(g, base, trials, budget);
            fits.add(plan(g, greedy, trials));
        } catch (BudgetException e) {
            // greedy recomputes stage insides only; a sqrt choice fits where it does not
        }
        return fits.stream().filter(c -> c.report.plannedPeakBytes() <= budget.bytes())
                .min(Comparator.comparingLong((Candidate c) -> c.report.recomputeFlops())
                        .thenComparingLong(c -> c.report.plannedPeakBytes()))
                .orElseThrow().chosen;
    }

    /** The chain's choices at the budget, each planned; the model's budget corrected by each plan. */
    private static List<Candidate> solved(Graph g, Segments segments, List<Node> schedule, Set<Node> base,
                                          Trials trials, long budget, Chain chain) {
        List<Set<Node>> insides = chain.insides;
        List<Candidate> out = new ArrayList<>();
        long target = budget;
        for (int t = 0; t < TRIALS; t++) {
            BitSet pick = ChainDp.solve(chain.savedBytes, chain.flops, chain.peakBytes, target);
            if (pick == null) {
                break;
            }
            List<Set<Node>> taken = pick.stream().mapToObj(insides::get).toList();
            Candidate c = plan(g, segments.withBase(base, Segments.union(taken)), trials);
            out.add(c);
            long peak = c.report.plannedPeakBytes();
            if (peak > budget) {
                target -= peak - budget;
            } else if (budget - peak > ROOM_BYTES) {
                target += budget - peak;
            } else {
                break;
            }
        }
        return out;
    }

    /** The chain model of Note [Chain model of the planned peak], its windows from the plan {@code none}. */
    record Chain(List<Set<Node>> insides, long[] savedBytes, long[] flops, long[] peakBytes) {
    }

    /** The chain of {@code segments}' insides (forward order), its windows from {@code none}, the plan of {@code rebuilt}. */
    static Chain chain(Segments segments, List<Node> schedule, Set<Node> base, Rebuild.Result rebuilt, GraphPlan none) {
        List<Set<Node>> insides = new ArrayList<>(segments.interior().values());
        int n = insides.size();
        long before = Recompute.savedBytes(schedule, base);
        long[] saved = new long[n];
        long[] flops = new long[n];
        Map<Node, Integer> unitOf = new IdentityHashMap<>();
        for (int j = 0; j < n; j++) {
            saved[j] = before - Recompute.savedBytes(schedule, segments.withBase(base, insides.get(j)));
            for (Node x : insides.get(j)) {
                unitOf.put(x, j);
                if (!base.contains(x)) {
                    flops[j] += x.op().recomputeOp().flops(x.inputs().stream().map(Value::spec).toList());
                }
            }
        }
        // window of each forward node of the original graph: the number of insides begun by then
        Map<Node, Integer> windowOf = new IdentityHashMap<>();
        int begun = 0;
        for (Node x : Segments.forward(schedule)) {
            Integer u = unitOf.get(x);
            if (u != null) {
                begun = Math.max(begun, u + 1);
            }
            windowOf.put(x, u != null ? u : begun);
        }
        GraphPlan p = none;
        Map<Node, Integer> newWindow = new IdentityHashMap<>();
        for (Node x : windowOf.keySet()) {
            for (Value o : x.outputs()) {
                Value v = rebuilt.map().get(o);
                if (v != null && v.producer() != null) {
                    newWindow.put(v.producer(), windowOf.get(x));
                }
            }
        }
        long[] live = Planner.liveBytes(p.plan().lifetimes(), p.schedule().size());
        MemoryReport r = p.report();
        long fixed = r.persistentBytes() + r.workspaceBytes() + (r.activationPeakBytes() - r.lowerBoundBytes());
        long[] peak = new long[n + 1];
        int window = 0;
        for (int step = 0; step < p.schedule().size(); step++) {
            Node x = p.schedule().get(step);
            Integer w = newWindow.get(x);
            if (w == null && x.phase() != Phase.FORWARD) {
                int latest = -1;
                for (Value in : x.inputs()) {
                    Integer iw = in.producer() == null ? null : newWindow.get(in.producer());
                    latest = iw == null ? latest : Math.max(latest, iw);
                }
                w = latest >= 0 ? latest : window;
            }
            window = w == null ? window : Math.min(w, n);
            peak[window] = Math.max(peak[window], live[step] + fixed);
        }
        return new Chain(insides, saved, flops, peak);
    }

    private static Candidate plan(Graph g, Set<Node> chosen, Trials trials) {
        return new Candidate(chosen, trials.plan(g, chosen).report());
    }
}
