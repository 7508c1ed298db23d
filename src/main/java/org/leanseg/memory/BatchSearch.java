package org.leanseg.memory;

import java.util.HashMap;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.ToLongFunction;
import org.leanseg.memory.recompute.RecomputePolicy;

/**
 * The largest batch whose training-step plan fits a memory budget, found by planning, not by
 * trial-and-error allocation: plans at batch 1, 2, 4, ... until one is over the budget, then
 * bisection between the last that fits and the first that does not. A plan fits when its planned
 * peak (activation arena + persistent tensors + workspace, {@link MemoryReport#plannedPeakBytes})
 * is at most the budget. The peak grows with the batch, so the answer is exact; nothing is
 * allocated. Generic in the plan type {@code P}: {@code leanseg plan} searches StepPlans, the
 * trainer MemoryReports of its own step graph.
 *
 * <p>Under {@code auto-greedy} a batch fits when the most that it recomputes ({@code stages}) fits,
 * so the search runs on {@code stages} plans; under {@code auto} when {@code stages} or {@code sqrt}
 * fits (it chooses on both chains), so the search runs on both and takes the larger batch. The
 * answer is then planned once with the policy at the budget, which recomputes only what that batch
 * needs.
 *
 * <pre>{@code
 * BatchSearch.Result<StepPlan> r = BatchSearch.largest((b, policy) -> StepPlan.of(cfg, b, 512, 512, passes.withRecompute(policy)),
 *         p -> p.report().plannedPeakBytes(), RecomputePolicy.stages(), ByteSize.parse("6GiB"), BatchSearch.MAX_BATCH);
 * if (r.fits()) { int batch = r.batch(); }
 * }</pre>
 * Check: {@code mvn -q test -Dtest=BatchSearchTest}.
 */
public final class BatchSearch {
    /** The largest batch tried by default: far beyond any one GPU, and only log₂ of it plans. */
    public static final int MAX_BATCH = 1 << 16;

    private BatchSearch() {
    }

    /**
     * The answer: {@code batch} 0 when not even batch 1 fits; {@code plan} the plan at
     * {@code batch} (at batch 1 when none fits) and {@code peakBytes} its planned peak;
     * {@code nextPeakBytes} the planned peak of {@code batch + 1}, over the budget (0 when
     * {@code batch} is the cap); {@code budget} what was searched against.
     */
    public record Result<P>(ByteSize budget, int batch, P plan, long peakBytes, long nextPeakBytes, int plansMade) {
        public boolean fits() {
            return batch > 0;
        }
    }

    /** Plans one step at a batch size under a recompute policy. */
    @FunctionalInterface
    public interface PolicyPlanner<P> {
        P plan(int batch, RecomputePolicy policy);
    }

    /** The largest batch up to {@code maxBatch} whose plan ({@code planAt}) has {@code peak} within {@code budget}. */
    public static <P> Result<P> largest(IntFunction<P> planAt, ToLongFunction<P> peak, ByteSize budget, int maxBatch) {
        Map<Integer, P> plans = new HashMap<>();
        IntFunction<P> plan = b -> plans.computeIfAbsent(b, planAt::apply);
        IntFunction<Long> peakAt = b -> peak.applyAsLong(plan.apply(b));
        if (peakAt.apply(1) > budget.bytes()) {
            return new Result<>(budget, 0, plan.apply(1), peakAt.apply(1), peakAt.apply(1), plans.size());
        }
        int good = 1;
        int bad = -1;
        while (bad < 0 && good < maxBatch) {
            int next = (int) Math.min((long) good * 2, maxBatch);
            if (peakAt.apply(next) <= budget.bytes()) {
                good = next;
            } else {
                bad = next;
            }
        }
        while (bad > good + 1) {
            int mid = (good + bad) >>> 1;
            if (peakAt.apply(mid) <= budget.bytes()) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        long next = bad < 0 ? 0 : peakAt.apply(bad);
        return new Result<>(budget, good, plan.apply(good), peakAt.apply(good), next, plans.size());
    }

    /**
     * The largest batch under {@code policy}. An {@code auto} policy's own budget is capped at
     * {@code budget} (the result's budget is the smaller of the two) and its search runs on
     * {@code stages}; its plan is then made under {@code auto} at the batch found.
     */
    public static <P> Result<P> largest(PolicyPlanner<P> planAt, ToLongFunction<P> peak, RecomputePolicy policy,
                                        ByteSize budget, int maxBatch) {
        if (!policy.kind().budgeted()) {
            return largest(b -> planAt.plan(b, policy), peak, budget, maxBatch);
        }
        ByteSize cap = policy.budget().bytes() <= budget.bytes() ? policy.budget() : budget;
        Result<P> r = largest(b -> planAt.plan(b, RecomputePolicy.stages()), peak, cap, maxBatch);
        if (policy.kind() == RecomputePolicy.Kind.AUTO) {
            Result<P> sqrt = largest(b -> planAt.plan(b, RecomputePolicy.sqrt()), peak, cap, maxBatch);
            r = sqrt.batch() > r.batch() ? sqrt : r;
        }
        if (!r.fits()) {
            return r;
        }
        P auto = planAt.plan(r.batch(), policy.withBudget(cap));
        return new Result<>(cap, r.batch(), auto, peak.applyAsLong(auto), r.nextPeakBytes(), r.plansMade() + 1);
    }
}
