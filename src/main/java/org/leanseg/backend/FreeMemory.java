package org.leanseg.backend;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Memory a backend could still allocate, and where the figure comes from (for the line that says
 * which inference mode was used and why). CUDA reports the device's free memory
 * (cudaMemGetInfo); the cpu backend's native arenas take host memory, the kernel's MemAvailable
 * (capped by a cgroup v2 limit where one is set); the reference backend's arenas are Java arrays,
 * so it has the heap's headroom: the maximum heap less what was live after the last collection.
 *
 * <pre>{@code
 * FreeMemory f = backend.freeMemory();  // f.bytes(), f.source(): "free host memory (MemAvailable)" on cpu
 * }</pre>
 *
 * Check: {@code mvn -B -q test -Dtest=MemoryBudgetTest}.
 *
 * @param bytes what could be allocated now
 * @param source where the figure comes from
 */
public record FreeMemory(long bytes, String source) {
    /** The device's free memory as its driver reports it. */
    public static FreeMemory of(DeviceMemory device) {
        return new FreeMemory(device.freeBytes(), "free device memory (cudaMemGetInfo)");
    }

    /** Host memory available to new allocations: MemAvailable, within the cgroup's limit; the heap's headroom off Linux. */
    public static FreeMemory host() {
        Long available = kib(Path.of("/proc/meminfo"), "MemAvailable:");
        if (available == null) {
            return heap();
        }
        long bytes = available << 10;
        String source = "free host memory (MemAvailable)";
        Long limit = number(Path.of("/sys/fs/cgroup/memory.max"));
        Long current = number(Path.of("/sys/fs/cgroup/memory.current"));
        if (limit != null && current != null && limit - current < bytes) {
            bytes = Math.max(0, limit - current);
            source = "free host memory (the cgroup's memory.max less memory.current)";
        }
        return new FreeMemory(bytes, source);
    }

    /**
     * The Java heap's headroom: the maximum heap less the heap in use, counting each pool's usage
     * after its last collection where there was one (garbage is not held against the budget).
     */
    public static FreeMemory heap() {
        long used = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() != MemoryType.HEAP || !pool.isValid()) {
                continue;
            }
            MemoryUsage after = pool.isCollectionUsageThresholdSupported() ? pool.getCollectionUsage() : null;
            MemoryUsage now = pool.getUsage();
            used += after != null && after.getUsed() > 0 ? Math.min(after.getUsed(), now.getUsed()) : now.getUsed();
        }
        return new FreeMemory(Math.max(0, Runtime.getRuntime().maxMemory() - used), "free Java heap (-Xmx less the live heap)");
    }

    /** The number on a "key: N kB" line of a /proc file, or null. */
    private static Long kib(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file)) {
                if (line.startsWith(key)) {
                    return Long.parseLong(line.substring(key.length()).replace("kB", "").trim());
                }
            }
        } catch (IOException | NumberFormatException | SecurityException unreadable) {
            return null;
        }
        return null;
    }

    /** A file holding one number ("max" or unreadable: null). */
    private static Long number(Path file) {
        try {
            return Long.parseLong(Files.readString(file).trim());
        } catch (IOException | NumberFormatException | SecurityException unreadable) {
            return null;
        }
    }
}
