package org.leanseg.profile;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The process's resident memory as Linux reports it in {@code /proc/self/status}: {@code VmRSS}
 * (resident now) and {@code VmHWM} (the resident high-water mark). {@link #resetPeak()} writes
 * {@code 5} to {@code /proc/self/clear_refs}, which sets the high-water mark back to the current
 * RSS, so the growth of one phase (a training step) can be read as {@code VmHWM} after it minus
 * {@code VmRSS} before it. {@code benchmarks/cpu-vs-pytorch/torch_step.py} measures PyTorch the same way.
 *
 * <pre>{@code
 * boolean reset = ProcessMemory.resetPeak();
 * ProcessMemory.Sample before = ProcessMemory.sample();
 * ... run the steps ...
 * long growth = ProcessMemory.sample().hwmBytes() - before.rssBytes();
 * // or, the same as one window:
 * ProcessMemory.Started w = ProcessMemory.start();
 * ... run the steps ...
 * long growth2 = w.end().growthBytes();
 * }</pre>
 * Check: {@code mvn -B -q test -Dtest=ProcessMemoryTest+BenchStepCommandTest}.
 */
public final class ProcessMemory {
    private static final Path STATUS = Path.of("/proc/self/status");
    private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");

    private ProcessMemory() {
    }

    /** VmRSS and VmHWM in bytes; -1 each where the system does not report them (not Linux). */
    public record Sample(long rssBytes, long hwmBytes) {
        public boolean known() {
            return rssBytes >= 0 && hwmBytes >= 0;
        }
    }

    /** Reads VmRSS and VmHWM now. */
    public static Sample sample() {
        long rss = -1;
        long hwm = -1;
        try {
            for (String line : Files.readAllLines(STATUS, StandardCharsets.UTF_8)) {
                if (line.startsWith("VmRSS:")) {
                    rss = kib(line);
                } else if (line.startsWith("VmHWM:")) {
                    hwm = kib(line);
                }
            }
        } catch (IOException | RuntimeException e) {
            return new Sample(-1, -1);
        }
        return new Sample(rss, hwm);
    }

    /**
     * The resident memory over one phase: VmRSS before it, VmHWM and VmRSS after it, and whether
     * VmHWM was reset at its start (otherwise the peak is the process's whole-life peak).
     */
    public record Window(boolean reset, long beforeBytes, long peakBytes, long afterBytes) {
        /** VmHWM after minus VmRSS before (at least 0), or -1 where /proc did not say. */
        public long growthBytes() {
            return beforeBytes < 0 || peakBytes < 0 ? -1 : Math.max(0, peakBytes - beforeBytes);
        }

        public boolean known() {
            return growthBytes() >= 0;
        }
    }

    /** Starts a window: resets VmHWM and reads VmRSS; {@link Started#end()} reads them again. */
    public static Started start() {
        boolean reset = resetPeak();
        return new Started(reset, sample());
    }

    /** A window begun by {@link #start()}. */
    public record Started(boolean reset, Sample before) {
        public Window end() {
            Sample after = sample();
            return new Window(reset, before.rssBytes(), after.hwmBytes(), after.rssBytes());
        }
    }

    /** Sets VmHWM back to VmRSS; false where the kernel does not allow it (then VmHWM is the process's whole-life peak). */
    public static boolean resetPeak() {
        try {
            Files.writeString(CLEAR_REFS, "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** "VmRSS:	  123456 kB" to bytes. */
    private static long kib(String line) {
        String[] parts = line.trim().split("\\s+");
        return Long.parseLong(parts[1]) * 1024;
    }
}
