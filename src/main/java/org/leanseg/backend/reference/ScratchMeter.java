package org.leanseg.backend.reference;

import java.lang.management.ManagementFactory;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Heap bytes a reference kernel allocates while it runs: the calling thread's and every
 * {@link Parallel} worker's allocation counters (HotSpot's per-thread allocated bytes, the counter
 * behind JFR's allocation events) read before and after. Reference kernels take their scratch
 * (column buffers, partial sums, packing panels) from the Java heap rather than from the arena, so
 * this is their workspace, measured rather than declared. It is an upper bound of the scratch live
 * at once during the op (the collector may free some before the op ends) and includes the few small
 * objects a kernel makes (lambdas, problem records). A worker's thread-local packing buffers count
 * in the first op that makes them.
 *
 * <pre>{@code
 * long bytes = ScratchMeter.measure(() -> Ops.runReference(op, in, out));
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ReferenceBackendMemoryTest}.
 */
public final class ScratchMeter {
    private static final com.sun.management.ThreadMXBean THREADS = threadBean();

    private ScratchMeter() {
    }

    private static com.sun.management.ThreadMXBean threadBean() {
        if (ManagementFactory.getThreadMXBean() instanceof com.sun.management.ThreadMXBean t
                && t.isThreadAllocatedMemorySupported()) {
            t.setThreadAllocatedMemoryEnabled(true);
            return t;
        }
        return null;
    }

    /** Whether this JVM counts per-thread allocation (HotSpot does); without it {@link #measure} returns -1. */
    public static boolean supported() {
        return THREADS != null;
    }

    /** Runs {@code kernel} and returns the heap bytes its threads allocated meanwhile, or -1 when unsupported. */
    public static long measure(Runnable kernel) {
        if (THREADS == null) {
            kernel.run();
            return -1;
        }
        Map<Long, Long> before = allocated(Parallel.workers());
        long self = THREADS.getCurrentThreadAllocatedBytes();
        kernel.run();
        long total = THREADS.getCurrentThreadAllocatedBytes() - self;
        for (Map.Entry<Long, Long> e : allocated(Parallel.workers()).entrySet()) {
            // a worker started during the op allocated everything it has during the op
            total += e.getValue() - before.getOrDefault(e.getKey(), 0L);
        }
        return total;
    }

    /** Thread id to allocated bytes, for the live threads among {@code threads}. */
    private static Map<Long, Long> allocated(List<Thread> threads) {
        long[] ids = new long[threads.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = threads.get(i).getId();
        }
        long[] bytes = THREADS.getThreadAllocatedBytes(ids);
        Map<Long, Long> m = new HashMap<>();
        for (int i = 0; i < ids.length; i++) {
            if (bytes[i] >= 0) {
                m.put(ids[i], bytes[i]);
            }
        }
        return m;
    }
}
