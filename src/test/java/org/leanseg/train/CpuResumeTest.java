package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.backend.cpu.CpuNative;

/**
 * {@code --resume} is bit-exact on the oneDNN cpu backend: a run stopped at iteration 3 and resumed
 * from its checkpoint logs the very losses (bit for bit) of the uninterrupted run, with the fused
 * step the cpu device trains, explicitly on {@code device: cpu}. Skips where the cpu backend cannot load.
 */
class CpuResumeTest {
    @Test
    void resumeOnCpuIsBitExact(@TempDir Path dir) throws IOException {
        Assumptions.assumeTrue(CpuNative.available(), "cpu backend unavailable: " + CpuNative.unavailableReason());
        Trainer.Result full = new Trainer(ResumeTest.small(dir, "a", "device=cpu"), ResumeTest.quiet(), false).run(null, null, false);
        assertEquals(6, full.losses().size());
        Path mid = dir.resolve("a").resolve("iter_000003.safetensors");
        Trainer.Result resumed = new Trainer(ResumeTest.small(dir, "b", "device=cpu"), ResumeTest.quiet(), false).run(mid, null, false);
        assertEquals(3, resumed.losses().size());
        for (int i = 0; i < 3; i++) {
            assertEquals(Float.floatToIntBits(full.losses().get(3 + i)), Float.floatToIntBits(resumed.losses().get(i)),
                    "loss of iteration " + (4 + i) + ": " + full.losses().get(3 + i) + " vs resumed " + resumed.losses().get(i));
        }
    }
}
