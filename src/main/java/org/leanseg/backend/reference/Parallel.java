package org.leanseg.backend.reference;

import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * Splits loops over the machine's cores. Reference kernels parallelise over independent outputs
 * only, so results do not depend on the thread count or on how the range is cut.
 *
 * <p>Note [A team, not a pool]: a training step at small sizes runs hundreds of kernels of 10-100
 * µs each, so the cost of handing out work decides the speed. A fork/join pool took 13-19 µs per
 * loop with an empty body, and made a 15 µs loop take 60 µs on two cores: the calling thread waited
 * while the pool woke workers to do all of it. Here the calling thread works too: a loop is cut into
 * chunks that the caller and the helper threads claim one at a time from a shared counter, and the
 * caller returns once every chunk is done. Helpers spin briefly ({@link #SPIN_NANOS}) after each
 * loop, so the next kernel's loop, a few µs later, finds them awake; then they park. A loop started
 * while another is running (another thread's, or one nested in a loop body) runs on its caller alone.
 */
public final class Parallel {
    /** How long an idle helper keeps looking for the next loop before it parks. */
    private static final long SPIN_NANOS = 100_000;
    private static final int THREADS = configuredThreads();
    /** The helper threads (one fewer than {@link #THREADS}: the caller is the other one). */
    private static final Helper[] HELPERS = startHelpers();
    /** Held while a loop is handed out: one parallel loop at a time. */
    private static final AtomicBoolean BUSY = new AtomicBoolean();
    /** The latest loop; helpers compare its serial number with the last one they saw. */
    private static volatile Job current;

    private static int configuredThreads() {
        String t = System.getProperty("leanseg.threads");
        int n = t == null || t.isBlank() ? 0 : Integer.parseInt(t.trim());
        return n > 0 ? n : Runtime.getRuntime().availableProcessors();
    }

    private static Helper[] startHelpers() {
        Helper[] h = new Helper[THREADS - 1];
        for (int i = 0; i < h.length; i++) {
            h[i] = new Helper(i + 1);
            h[i].start();
        }
        return h;
    }

    private Parallel() {
    }

    /** A body over the half-open range [lo, hi). */
    @FunctionalInterface
    public interface RangeBody {
        void run(int lo, int hi);
    }

    /** Threads that run a loop: the caller plus the helpers ({@code -Dleanseg.threads=N}, default: the cores). */
    public static int threads() {
        return THREADS;
    }

    /** The helper threads, so that {@link ScratchMeter} can count what they allocate. */
    static List<Thread> workers() {
        return List.of(HELPERS);
    }

    /**
     * Runs {@code body} over [0, n) in chunks of at least {@code grain} items, in parallel when
     * there is enough work; returns when every chunk has run. An exception from any chunk is
     * rethrown here (after the other chunks have finished).
     */
    public static void range(int n, int grain, RangeBody body) {
        if (n <= 0) {
            return;
        }
        int chunks = Math.min(THREADS * 4, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || HELPERS.length == 0 || Thread.currentThread() instanceof Helper || !BUSY.compareAndSet(false, true)) {
            body.run(0, n);
            return;
        }
        Job job;
        try {
            Job previous = current;
            job = new Job(previous == null ? 1 : previous.serial + 1, body, n, (n + chunks - 1) / chunks);
            current = job;
            for (Helper h : HELPERS) {
                if (h.parked) {
                    LockSupport.unpark(h);
                }
            }
            job.work();
            job.awaitDone();
        } finally {
            BUSY.set(false);
        }
        if (job.error != null) {
            if (job.error instanceof RuntimeException r) {
                throw r;
            }
            if (job.error instanceof Error e) {
                throw e;
            }
            throw new IllegalStateException(job.error);
        }
    }

    /** One loop: its chunks are claimed from {@code next} and counted in {@code done}. */
    private static final class Job {
        final long serial;
        final RangeBody body;
        final int n;
        final int chunk;
        final int chunks;
        final AtomicInteger next = new AtomicInteger();
        final AtomicInteger done = new AtomicInteger();
        volatile Throwable error;

        Job(long serial, RangeBody body, int n, int chunk) {
            this.serial = serial;
            this.body = body;
            this.n = n;
            this.chunk = chunk;
            this.chunks = (n + chunk - 1) / chunk;
        }

        /** Claims and runs chunks until none is left. */
        void work() {
            for (int c = next.getAndIncrement(); c < chunks; c = next.getAndIncrement()) {
                try {
                    if (error == null) {
                        body.run(c * chunk, Math.min(n, (c + 1) * chunk));
                    }
                } catch (Throwable t) {
                    error = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }

        /** Waits for chunks that helpers claimed and still run (each is a short piece of one kernel). */
        void awaitDone() {
            for (int spins = 0; done.get() < chunks; spins++) {
                if (spins < 1 << 16) {
                    Thread.onSpinWait();
                } else {
                    Thread.yield();
                }
            }
        }
    }

    /** A helper: runs chunks of each new loop, spins a while after it, then parks until woken. */
    private static final class Helper extends Thread {
        volatile boolean parked;
        private long seen;

        Helper(int index) {
            super("leanseg-parallel-" + index);
            setDaemon(true);
        }

        @Override
        public void run() {
            long idleSince = System.nanoTime();
            while (true) {
                Job job = current;
                if (job != null && job.serial != seen) {
                    seen = job.serial;
                    job.work();
                    idleSince = System.nanoTime();
                    continue;
                }
                if (System.nanoTime() - idleSince < SPIN_NANOS) {
                    Thread.onSpinWait();
                    continue;
                }
                parked = true;
                Job again = current;
                if (again == null || again.serial == seen) {
                    LockSupport.park(this);
                }
                parked = false;
                idleSince = System.nanoTime();
            }
        }
    }
}
