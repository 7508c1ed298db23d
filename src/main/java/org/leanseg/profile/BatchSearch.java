package org.leanseg.profile;

import java.util.HashMap;
import java.util.Map;
import java.util.function.IntFunction;
import org.leanseg.memory.ByteSize;
import org.leanseg.memory.recompute.RecomputePolicy;

/**
 * The largest batch whose training-step plan fits a memory budget, found by planning, not by
 * trial-and-error allocation: plans at batch 1, 2, 4, ... until one is over the budget, then
 * bisection between the last that fits and the first that does not. "Fits" is the plan's planned
 * peak (activation arena + persistent tensors + workspace) at most the budget. The peak grows with
 * the batch, so the answer is exact; nothing is allocated.
 *
 * <p>Under {@code auto} a batch fits when the most that auto recomputes ({@code stages}) fits, so
 * the search runs on {@code stages} plans and the answer is then planned once with
 * {@code auto:<budget>}, which recomputes only what that batch needs.
 *
 * <pre>{@code
 * BatchSearch.Result r = BatchSearch.largest(b -> StepPlan.of(cfg, b, 512, 512, passes), ByteSize.parse("6GiB"), 4096);
 * if (r.fits()) { int batch = r.batch(); long peak = r.plan().report().plannedPeakBytes(); }
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
     * {@code batch} (at batch 1 when none fits); {@code nextPeakBytes} the planned peak of
     * {@code batch + 1}, which is over the budget (0 when {@code batch} is the cap).
     */
    public record Result(ByteSize budget, int batch, StepPlan plan, long nextPeakBytes, int plansMade) {
        public boolean fits() {
            return batch > 0;
        }
    }

    /** Searches {@code planAt} (a plan per batch size) for the largest batch up to {@code maxBatch} that fits. */
    public static Result largest(IntFunction<StepPlan> planAt, ByteSize budget, int maxBatch) {
        Map<Integer, StepPlan> plans = new HashMap<>();
        IntFunction<StepPlan> plan = b -> plans.computeIfAbsent(b, planAt::apply);
        if (!fits(plan.apply(1), budget)) {
            return new Result(budget, 0, plan.apply(1), plan.apply(1).report().plannedPeakBytes(), plans.size());
        }
        int good = 1;
        int bad = -1;
        while (bad < 0 && good < maxBatch) {
            int next = (int) Math.min((long) good * 2, maxBatch);
            if (fits(plan.apply(next), budget)) {
                good = next;
            } else {
                bad = next;
            }
        }
        while (bad > good + 1) {
            int mid = (good + bad) >>> 1;
            if (fits(plan.apply(mid), budget)) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        long next = bad < 0 ? 0 : plan.apply(bad).report().plannedPeakBytes();
        return new Result(budget, good, plan.apply(good), next, plans.size());
    }

    /**
     * The largest batch under {@code policy}; {@code planAt} plans a batch under a given policy. An
     * {@code auto} policy's own budget is capped at {@code budget} (the result's budget is the
     * smaller of the two); its search runs on {@code stages}.
     */
    public static Result largest(PolicyPlanner planAt, RecomputePolicy policy, ByteSize budget, int maxBatch) {
        if (policy.kind() != RecomputePolicy.Kind.AUTO) {
            return largest(b -> planAt.plan(b, policy), budget, maxBatch);
        }
        ByteSize cap = policy.budget().bytes() <= budget.bytes() ? policy.budget() : budget;
        Result r = largest(b -> planAt.plan(b, RecomputePolicy.stages()), cap, maxBatch);
        if (!r.fits()) {
            return r;
        }
        return new Result(cap, r.batch(), planAt.plan(r.batch(), RecomputePolicy.auto(cap)), r.nextPeakBytes(), r.plansMade() + 1);
    }

    private static boolean fits(StepPlan p, ByteSize budget) {
        return p.report().plannedPeakBytes() <= budget.bytes();
    }

    /** Plans one step at a batch size under a recompute policy. */
    @FunctionalInterface
    public interface PolicyPlanner {
        StepPlan plan(int batch, RecomputePolicy policy);
    }
}
