package org.leanseg.backend.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

/** {@link Parallel}'s loops: every index exactly once, errors rethrown, nested and concurrent loops. */
class ParallelTest {
    /** Counts how often each index of [0, n) was visited by {@code range(n, grain, ...)}. */
    private static AtomicIntegerArray visits(int n, int grain) {
        AtomicIntegerArray seen = new AtomicIntegerArray(n);
        Parallel.range(n, grain, (lo, hi) -> {
            assertTrue(0 <= lo && lo < hi && hi <= n, "chunk [" + lo + ", " + hi + ") of [0, " + n + ")");
            for (int i = lo; i < hi; i++) {
                seen.incrementAndGet(i);
            }
        });
        return seen;
    }

    @Test
    void everyIndexRunsExactlyOnce() {
        for (int n : new int[] {0, 1, 2, 3, 7, 64, 1000, 4097}) {
            for (int grain : new int[] {1, 3, 100, 1 << 20}) {
                for (int rep = 0; rep < 50; rep++) {
                    AtomicIntegerArray seen = visits(n, grain);
                    for (int i = 0; i < n; i++) {
                        assertEquals(1, seen.get(i), "index " + i + " of n=" + n + ", grain " + grain);
                    }
                }
            }
        }
    }

    @Test
    void chunkExceptionsReachTheCallerAfterTheLoop() {
        IllegalArgumentException boom = new IllegalArgumentException("boom");
        for (int rep = 0; rep < 20; rep++) {
            RuntimeException e = assertThrows(IllegalArgumentException.class, () -> Parallel.range(1000, 1, (lo, hi) -> {
                if (lo <= 500 && 500 < hi) {
                    throw boom;
                }
            }));
            assertSame(boom, e);
        }
        // the team is usable afterwards
        AtomicIntegerArray seen = visits(100, 1);
        for (int i = 0; i < 100; i++) {
            assertEquals(1, seen.get(i));
        }
    }

    @Test
    void nestedLoopsRunInsideTheirChunk() {
        int n = 40;
        int m = 50;
        AtomicIntegerArray seen = new AtomicIntegerArray(n * m);
        Parallel.range(n, 1, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int row = i;
                Parallel.range(m, 1, (a, b) -> {
                    for (int j = a; j < b; j++) {
                        seen.incrementAndGet(row * m + j);
                    }
                });
            }
        });
        for (int i = 0; i < n * m; i++) {
            assertEquals(1, seen.get(i), "cell " + i);
        }
    }

    @Test
    void loopsFromSeveralThreadsAtOnce() throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
        for (int t = 0; t < 4; t++) {
            Thread th = new Thread(() -> {
                try {
                    for (int rep = 0; rep < 200; rep++) {
                        AtomicIntegerArray seen = visits(333, 1);
                        for (int i = 0; i < 333; i++) {
                            assertEquals(1, seen.get(i));
                        }
                    }
                } catch (Throwable e) {
                    failures.add(e);
                }
            });
            threads.add(th);
            th.start();
        }
        for (Thread th : threads) {
            th.join(60_000);
            org.junit.jupiter.api.Assertions.assertFalse(th.isAlive(), th.getName() + " still running after 60 s: a deadlock?");
        }
        assertTrue(failures.isEmpty(), () -> "failures: " + failures);
    }
}
