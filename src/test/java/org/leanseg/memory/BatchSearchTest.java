package org.leanseg.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.leanseg.memory.recompute.RecomputePolicy;

/** The batch search as data: peaks as functions of the batch, no graphs. */
class BatchSearchTest {
    /** A plan of a made-up step: persistent bytes plus bytes per image. */
    private record Fake(int batch, RecomputePolicy policy, long peak) {
    }

    @Test
    void findsTheLargestBatchThatFitsWithLogarithmicallyManyPlans() {
        for (long budget : new long[] {1000 + 37 * 100, 1000 + 100, 1000 + 4096 * 100, 1000 + 37 * 100 + 99}) {
            List<Integer> tried = new ArrayList<>();
            BatchSearch.Result<Long> r = BatchSearch.largest(b -> {
                tried.add(b);
                return 1000L + 100L * b;
            }, p -> p, new ByteSize(budget), BatchSearch.MAX_BATCH);
            int expected = (int) ((budget - 1000) / 100);
            assertEquals(expected, r.batch(), "budget " + budget);
            assertEquals(1000L + 100L * expected, r.peakBytes());
            assertEquals(1000L + 100L * (expected + 1), r.nextPeakBytes());
            assertTrue(r.plansMade() <= 2 * (32 - Integer.numberOfLeadingZeros(expected)) + 2, tried.toString());
            assertEquals(tried.size(), r.plansMade(), "each batch planned once");
        }
    }

    @Test
    void saysWhenNotEvenOneFitsAndStopsAtTheCap() {
        BatchSearch.Result<Long> none = BatchSearch.largest(b -> 500L * b, p -> p, new ByteSize(499), 64);
        assertFalse(none.fits());
        assertEquals(500, none.peakBytes());
        BatchSearch.Result<Long> capped = BatchSearch.largest(b -> 1L * b, p -> p, new ByteSize(1 << 20), 48);
        assertEquals(48, capped.batch());
        assertEquals(0, capped.nextPeakBytes(), "the cap, not the budget, ended the search");
    }

    @Test
    void autoSearchesOnStagesAndPlansTheAnswerUnderAuto() {
        // stages: 100 per image; none: 300 per image; auto plans whatever the policy asks for at the end
        BatchSearch.PolicyPlanner<Fake> planner = (b, p) -> new Fake(b, p,
                p.kind() == RecomputePolicy.Kind.NONE ? 300L * b : p.kind() == RecomputePolicy.Kind.AUTO ? 95L * b : 100L * b);
        ByteSize budget = new ByteSize(1000);
        BatchSearch.Result<Fake> auto = BatchSearch.largest(planner, Fake::peak, RecomputePolicy.auto(budget), budget, 1 << 10);
        assertEquals(10, auto.batch());
        assertEquals(RecomputePolicy.auto(budget), auto.plan().policy());
        assertEquals(950, auto.peakBytes());
        BatchSearch.Result<Fake> capped = BatchSearch.largest(planner, Fake::peak, RecomputePolicy.auto(new ByteSize(600)), budget, 1 << 10);
        assertEquals(6, capped.batch(), "auto's own budget is the tighter one");
        assertEquals(600, capped.budget().bytes());
        assertEquals(3, BatchSearch.largest(planner, Fake::peak, RecomputePolicy.none(), budget, 1 << 10).batch());
    }
}
