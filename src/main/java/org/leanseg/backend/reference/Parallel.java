package org.leanseg.backend.reference;

import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;

/**
 * Splits loops over the machine's cores. Reference kernels parallelise over independent outputs
 * only, so results do not depend on the thread count.
 */
public final class Parallel {
    /**
     * Our own pool with one worker per core (or {@code -Dleanseg.threads=N}). Not the common pool:
     * its parallelism is cores - 1, which on a 2-core machine is one thread.
     */
    private static final ForkJoinPool POOL = new ForkJoinPool(configuredThreads(), Parallel::newWorker, null, false);
    /** The pool's workers, so that {@link ScratchMeter} can count what they allocate. */
    private static final Set<Thread> WORKERS = ConcurrentHashMap.newKeySet();

    private static ForkJoinWorkerThread newWorker(ForkJoinPool pool) {
        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
        WORKERS.add(t);
        return t;
    }

    /** The pool's worker threads alive now. */
    static List<Thread> workers() {
        WORKERS.removeIf(t -> t.getState() == Thread.State.TERMINATED);
        return List.copyOf(WORKERS);
    }

    private static int configuredThreads() {
        String t = System.getProperty("leanseg.threads");
        int n = t == null || t.isBlank() ? 0 : Integer.parseInt(t.trim());
        return n > 0 ? n : Runtime.getRuntime().availableProcessors();
    }

    private Parallel() {
    }

    /** A body over the half-open range [lo, hi). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    public static int threads() {
        return Math.max(1, POOL.getParallelism());
    }

    /**
     * Runs {@code body} over [0, n) in chunks of at least {@code grain} items, in parallel when
     * there is enough work.
     */
    public static void range(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int chunks = Math.min(threads() * 4, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || POOL.getParallelism() <= 1) {
            body.run(0, n);
            return;
        }
        POOL.invoke(new Split(body, 0, n, (n + chunks - 1) / chunks));
    }

    private static final class Split extends RecursiveAction {
        private final RangeBody body;
        private final int lo;
        private final int hi;
        private final int chunk;

        Split(RangeBody body, int lo, int hi, int chunk) {
            this.body = body;
            this.lo = lo;
            this.hi = hi;
            this.chunk = chunk;
        }

        @Override
        protected void compute() {
            if (hi - lo <= chunk) {
                body.run(lo, hi);
                return;
            }
            int mid = lo + (hi - lo) / 2;
            invokeAll(new Split(body, lo, mid, chunk), new Split(body, mid, hi, chunk));
        }
    }
}
