package org.leanseg.memory.recompute;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.Comparator;
import java.util.List;

/**
 * The exact solver behind {@code auto:<bytes>} (issue 11), on the step's chain of checkpointable
 * segments as rotor (Beaumont et al. 2019, optimal checkpointing for heterogeneous chains) sees it:
 * segment {@code j} (forward order) can be recomputed for {@code flops[j]} and then frees
 * {@code savedBytes[j]} from its forward until its own backward. Window {@code i} (a stretch of the
 * step: segment {@code i}'s forward, or its backward) peaks at {@code peakBytes[i]} when nothing is
 * recomputed and is lowered by what every earlier segment {@code j < i} frees; window {@code n}
 * (the loss) by every segment. The choice minimises the summed FLOPs subject to every window's
 * peak being at most the budget:
 * <pre>
 *   min Σ_{j∈S} flops[j]   s.t.   peakBytes[i] − Σ_{j∈S, j<i} savedBytes[j] ≤ budget   for i = 0..n
 * </pre>
 * The constraints are thresholds on prefix sums, so a dynamic programme over the chain keeps, after
 * each segment, the Pareto front of (bytes freed so far, FLOPs so far): a state freeing no more for
 * no fewer FLOPs than another is dropped, and a state that misses window {@code i}'s threshold is
 * dropped there. That is exact (every optimum's prefix is on the front), unlike the greedy order by
 * FLOPs per byte ({@code auto-greedy}), which can miss, e.g., one cheap large segment that alone fits
 * against two smaller ones that it took first.
 *
 * <pre>{@code
 * BitSet s = ChainDp.solve(new long[] {4, 3}, new long[] {10, 1}, new long[] {5, 8, 9}, 5);  // {0}: 9 − 4 ≤ 5
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ChainDpTest} (against brute force on random chains).
 */
final class ChainDp {
    private ChainDp() {
    }

    private record State(long savedBytes, long flops, BitSet chosen) {
    }

    /**
     * The cheapest set of segments meeting every window, or null when even all of them do not.
     *
     * @param savedBytes per segment, the bytes its recomputation frees (≤ 0: never worth taking)
     * @param flops      per segment, what recomputing it costs
     * @param peakBytes  per window 0..n, its peak with nothing recomputed
     */
    static BitSet solve(long[] savedBytes, long[] flops, long[] peakBytes, long budgetBytes) {
        int n = savedBytes.length;
        if (flops.length != n || peakBytes.length != n + 1) {
            throw new IllegalArgumentException("a chain of " + n + " segments has " + n + " FLOP counts and " + (n + 1) + " windows");
        }
        List<State> front = new ArrayList<>(List.of(new State(0, 0, new BitSet())));
        for (int i = 0; i <= n; i++) {
            long need = peakBytes[i] - budgetBytes;
            front.removeIf(s -> s.savedBytes < need);
            if (front.isEmpty()) {
                return null;
            }
            if (i == n) {
                break;
            }
            if (savedBytes[i] <= 0) {
                continue; // frees nothing: taking it only costs
            }
            List<State> next = new ArrayList<>(front.size() * 2);
            next.addAll(front);
            for (State s : front) {
                BitSet c = (BitSet) s.chosen.clone();
                c.set(i);
                next.add(new State(s.savedBytes + savedBytes[i], s.flops + flops[i], c));
            }
            front = pareto(next);
        }
        return front.stream().min(Comparator.comparingLong(State::flops)).orElseThrow().chosen;
    }

    /** The states no other frees at least as much for at most as many FLOPs (first kept on ties). */
    private static List<State> pareto(List<State> states) {
        List<State> sorted = new ArrayList<>(states);
        sorted.sort(Comparator.comparingLong(State::savedBytes).reversed().thenComparingLong(State::flops));
        List<State> kept = new ArrayList<>();
        long best = Long.MAX_VALUE;
        for (State s : sorted) {
            if (s.flops < best) {
                kept.add(s);
                best = s.flops;
            }
        }
        return kept;
    }
}
