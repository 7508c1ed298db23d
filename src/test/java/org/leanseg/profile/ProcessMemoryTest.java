package org.leanseg.profile;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.backend.Buffer;
import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.memory.recompute.RecomputePolicy;
import org.leanseg.models.ModelConfig;

/**
 * {@link ProcessMemory} measures resident memory, not address space: 64 MiB written (a direct
 * buffer, a cpu backend arena) grow the window by at least 64 MiB; 64 MiB mapped and never touched
 * do not, until written. The cross-check that {@code profile} and {@code bench-step} report rests on this.
 */
class ProcessMemoryTest {
    private static final int MIB64 = 64 << 20;

    @Test
    void writtenMemoryGrowsTheWindow() {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "no /proc/self/status here");
        ProcessMemory.Started w = ProcessMemory.start();
        ByteBuffer touched = ByteBuffer.allocateDirect(MIB64); // zeroed on allocation: every page written
        for (int i = 0; i < MIB64; i += 4096) {
            touched.put(i, (byte) 1);
        }
        ProcessMemory.Window window = w.end();
        assertTrue(window.known(), window.toString());
        assertTrue(window.growthBytes() >= MIB64, "64 MiB written, RSS grew " + (window.growthBytes() >> 20) + " MiB: " + window);
        assertTrue(touched.get(MIB64 - 4096) == 1);
    }

    /** The cpu backend zeroes what it allocates (first touch by its threads), so 64 MiB of arena are 64 MiB resident. */
    @Test
    void cpuBackendAllocationsAreResident() {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "no /proc/self/status here");
        Assumptions.assumeTrue(CpuNative.available(), "no cpu backend library here");
        try (CpuBackend cpu = new CpuBackend()) {
            ProcessMemory.Started w = ProcessMemory.start();
            Buffer b = cpu.allocate(MIB64);
            ProcessMemory.Window window = w.end();
            cpu.free(b);
            assertTrue(window.reset(), "VmHWM reset (clear_refs): " + window);
            assertTrue(window.growthBytes() >= MIB64, "64 MiB arena, RSS grew " + (window.growthBytes() >> 20) + " MiB: " + window);
        }
    }

    /** Address space is not residence: 64 MiB of a sparse file mapped and never read stay out of VmHWM. */
    @Test
    void mappedButUntouchedMemoryIsNotCounted(@TempDir Path dir) throws IOException {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "no /proc/self/status here");
        try (FileChannel ch = FileChannel.open(dir.resolve("sparse"), StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ProcessMemory.Started w = ProcessMemory.start();
            MappedByteBuffer mapped = ch.map(FileChannel.MapMode.READ_WRITE, 0, MIB64);
            ProcessMemory.Window untouched = w.end();
            assertTrue(untouched.growthBytes() < MIB64 / 4, "64 MiB mapped, never touched, RSS grew "
                    + (untouched.growthBytes() >> 20) + " MiB: " + untouched);
            ProcessMemory.Started w2 = ProcessMemory.start();
            for (int i = 0; i < MIB64; i += 4096) {
                mapped.put(i, (byte) 1);
            }
            ProcessMemory.Window touched = w2.end();
            assertTrue(touched.growthBytes() >= MIB64 * 3L / 4, "64 MiB mapped and written, RSS grew "
                    + (touched.growthBytes() >> 20) + " MiB: " + touched);
        }
    }

    /**
     * The window {@code profile} reports spans the arena's allocation: a cpu arena above glibc's
     * largest mmap threshold (32 MiB) is fresh memory that the backend zeroes, so RSS grows by at
     * least the arena. A window taken anywhere else (before the allocation, or empty) fails here.
     */
    @Test
    void profileRssWindowSpansTheArena() {
        Assumptions.assumeTrue(Files.isReadable(Path.of("/proc/self/status")), "no /proc/self/status here");
        Assumptions.assumeTrue(CpuNative.available(), "no cpu backend library here");
        ModelConfig cfg = ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25).withClasses(3);
        try (CpuBackend cpu = new CpuBackend()) {
            StepPlan plan = StepProfiler.trainerPlan(cfg, 6, 128, 128, cpu, RecomputePolicy.none());
            Measured m = StepProfiler.run(plan, cpu, 1, 1).measured();
            assertTrue(m.arenaBytes() > 32L << 20, "the arena must exceed 32 MiB for this check; raise the batch: " + m.arenaBytes());
            assertTrue(m.rss().reset() && m.rss().growthBytes() >= m.arenaBytes(), "arena " + (m.arenaBytes() >> 20)
                    + " MiB, RSS grew " + (m.rss().growthBytes() >> 20) + " MiB: " + m.rss());
        }
    }
}
