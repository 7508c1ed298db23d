package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 7: SIGTERM to a training process (a real JVM, as a user's kill sends it) finishes
 * the step, saves a checkpoint atomically, logs it and exits 143.
 */
class SignalTest {
    @Test
    @EnabledOnOs(OS.LINUX)
    void sigtermSavesACheckpointAndExits143(@TempDir Path dir) throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", cp, "-Dleanseg.threads=1", Main.class.getName(), "train", "--device", "cpu"));
        for (String set : List.of("work_dir=" + dir, "name=sig", "model.width=0.25", "model.aspp_channels=16", "model.low_level_channels=8",
                "model.decoder_channels=16", "data.synthetic.image_size=32", "data.synthetic.train_size=40", "data.synthetic.val_size=4",
                "train.batch=2", "train.iters=100000", "train.warmup_iters=0", "train.log_interval=1", "train.eval_interval=0",
                "train.checkpoint_interval=0")) {
            cmd.add("--set");
            cmd.add(set);
        }
        Path err = dir.resolve("stderr.txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(File.createTempFile("out", ".txt", dir.toFile()))
                .redirectError(err.toFile()).start();
        try {
            Path log = dir.resolve("sig").resolve("log.txt");
            // waits for the run to be under way (two steps logged), then signals it
            while (p.isAlive() && !(Files.exists(log) && Files.readString(log).contains("iter 2/"))) {
                Thread.sleep(100);
            }
            assertTrue(p.isAlive(), "training ended before the signal: " + Files.readString(err));
            p.destroy(); // SIGTERM
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "exits after the step");
            assertEquals(143, p.exitValue(), Files.readString(err));
            String text = Files.readString(log);
            assertTrue(text.contains("SIGTERM: finished iteration") && text.contains("saved checkpoint"), text);
            assertTrue(text.strip().lines().reduce((a, b) -> b).orElseThrow().contains("stopped by SIGTERM"), text);
            String latest = Files.readString(dir.resolve("sig").resolve("last_checkpoint")).trim();
            org.leanseg.train.Checkpoints.verify(dir.resolve("sig").resolve(latest));
            assertTrue(Files.readString(err).contains("SIGTERM: finishing this step"), Files.readString(err));
        } finally {
            p.destroyForcibly();
        }
    }
}
