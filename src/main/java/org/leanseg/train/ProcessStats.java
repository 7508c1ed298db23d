package org.leanseg.train;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Process figures for metrics.jsonl, so a long run shows whether anything grows: resident memory
 * and open file descriptors and OS threads (Linux {@code /proc/self}; left out elsewhere), live JVM threads, and with
 * {@code -Dleanseg.gcAtLog=true} (the soak run, tools/soak.sh) the heap after a full GC.
 */
final class ProcessStats {
    private static final boolean GC_AT_LOG = Boolean.getBoolean("leanseg.gcAtLog");

    private ProcessStats() {
    }

    static void addTo(Map<String, Object> rec) {
        Long rssKib = statusField("VmRSS:");
        if (rssKib != null) {
            rec.put("rss_mib", rssKib >> 10);
        }
        Path fds = Path.of("/proc/self/fd");
        if (Files.isDirectory(fds)) {
            try (Stream<Path> s = Files.list(fds)) {
                rec.put("open_fds", s.count());
            } catch (IOException | SecurityException unreadable) {
                // not this platform's business
            }
        }
        // every live JVM thread (Thread.activeCount() sees only the caller's thread group)
        rec.put("threads", ManagementFactory.getThreadMXBean().getThreadCount());
        Long osThreads = statusField("Threads:");
        if (osThreads != null) {
            rec.put("os_threads", osThreads); // JVM threads plus native ones (OpenMP team)
        }
        if (GC_AT_LOG) {
            System.gc();
            rec.put("heap_after_gc_mib", ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed() >> 20);
        }
    }

    /** The number on a {@code /proc/self/status} line (VmRSS in KiB, Threads), or null off Linux. */
    private static Long statusField(String key) {
        Path status = Path.of("/proc/self/status");
        if (!Files.isRegularFile(status)) {
            return null;
        }
        try {
            for (String line : Files.readAllLines(status)) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException | SecurityException unreadable) {
            return null;
        }
        return null;
    }
}
