package org.leanseg.memory.recompute;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.BitSet;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** {@link ChainDp} against brute force over every subset of small random chains (issue 11). */
class ChainDpTest {
    /** The cheapest feasible subset's FLOPs by enumeration, or -1 when none is feasible. */
    static long bruteForce(long[] saved, long[] flops, long[] peak, long budget) {
        int n = saved.length;
        long best = -1;
        for (int mask = 0; mask < 1 << n; mask++) {
            long cost = 0;
            for (int j = 0; j < n; j++) {
                cost += (mask >> j & 1) * flops[j];
            }
            if (fits(saved, peak, budget, mask) && (best < 0 || cost < best)) {
                best = cost;
            }
        }
        return best;
    }

    static boolean fits(long[] saved, long[] peak, long budget, long mask) {
        long freed = 0;
        for (int i = 0; i < peak.length; i++) {
            if (peak[i] - freed > budget) {
                return false;
            }
            if (i < saved.length && (mask >> i & 1) == 1) {
                freed += saved[i];
            }
        }
        return true;
    }

    @Test
    void matchesBruteForceOnRandomChains() {
        Random rnd = new Random(11);
        int feasible = 0;
        for (int trial = 0; trial < 2000; trial++) {
            int n = 1 + rnd.nextInt(12);
            long[] saved = new long[n];
            long[] flops = new long[n];
            long[] peak = new long[n + 1];
            for (int j = 0; j < n; j++) {
                saved[j] = rnd.nextInt(8) == 0 ? 0 : 1 + rnd.nextInt(100);
                flops[j] = rnd.nextInt(1000);
            }
            for (int i = 0; i <= n; i++) {
                peak[i] = 200 + rnd.nextInt(400);
            }
            long budget = 200 + rnd.nextInt(400);
            long expected = bruteForce(saved, flops, peak, budget);
            BitSet got = ChainDp.solve(saved, flops, peak, budget);
            if (expected < 0) {
                assertNull(got, "trial " + trial);
                continue;
            }
            feasible++;
            assertNotNull(got, "trial " + trial);
            long mask = got.toLongArray().length == 0 ? 0 : got.toLongArray()[0];
            assertTrue(fits(saved, peak, budget, mask), "trial " + trial + ": the choice fits");
            long cost = got.stream().mapToLong(j -> flops[j]).sum();
            assertEquals(expected, cost, "trial " + trial + ": the cheapest");
        }
        assertTrue(feasible > 300, "enough feasible chains: " + feasible);
    }

    @Test
    void beatsTheGreedyOrderWhereThatIsNotOptimal() {
        // greedy by FLOPs per byte takes segment 1 (1/3 per byte), then still needs 4 bytes: 0 too (11 FLOPs);
        // segment 0 alone frees enough for 10
        long[] saved = {4, 3};
        long[] flops = {10, 1};
        long[] peak = {5, 8, 9};
        BitSet s = ChainDp.solve(saved, flops, peak, 5);
        assertEquals(BitSet.valueOf(new long[] {1}), s);
        assertNull(ChainDp.solve(saved, flops, peak, 1), "over budget even with all");
    }
}
