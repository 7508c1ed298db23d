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
 * the step, saves a checkpoint atomically, logs it and exits 143; a second SIGTERM exits at once.
 */
class SignalTest {
    /** Starts {@code leanseg train} in its own JVM on the cpu device with {@code sets} (run name "sig"); stderr to stderr.txt. */
    private static Process train(Path dir, String... sets) throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", cp, "-Dleanseg.threads=1", Main.class.getName(), "train", "--device", "cpu"));
        List<String> all = new ArrayList<>(List.of("work_dir=" + dir, "name=sig", "model.width=0.25", "model.aspp_channels=16",
                "model.low_level_channels=8", "model.decoder_channels=16", "data.synthetic.train_size=40", "data.synthetic.val_size=4",
                "train.iters=100000", "train.warmup_iters=0", "train.log_interval=1", "train.eval_interval=0", "train.checkpoint_interval=0"));
        all.addAll(List.of(sets));
        for (String set : all) {
            cmd.add("--set");
            cmd.add(set);
        }
        return new ProcessBuilder(cmd).redirectOutput(File.createTempFile("out", ".txt", dir.toFile()))
                .redirectError(dir.resolve("stderr.txt").toFile()).start();
    }

    @Test
    @EnabledOnOs(OS.LINUX)
    void sigtermSavesACheckpointAndExits143(@TempDir Path dir) throws Exception {
        Process p = train(dir, "data.synthetic.image_size=32", "train.batch=2");
        Path err = dir.resolve("stderr.txt");
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

    /**
     * A second signal exits at once (143), without finishing the step or saving a checkpoint. The
     * step is made long (batch 4 at 384x384) so that the first step is still running when the
     * second signal arrives, a few polls after the first was acknowledged.
     */
    @Test
    @EnabledOnOs(OS.LINUX)
    void aSecondSigtermExitsAtOnceWithoutACheckpoint(@TempDir Path dir) throws Exception {
        Process p = train(dir, "data.synthetic.image_size=384", "data.crop_size=384", "train.batch=4");
        Path err = dir.resolve("stderr.txt");
        try {
            Path log = dir.resolve("sig").resolve("log.txt");
            // the handlers are installed before the run's log starts; signal while the first step is planned or run
            while (p.isAlive() && !(Files.exists(log) && Files.readString(log).contains("device: "))) {
                Thread.sleep(50);
            }
            assertTrue(p.isAlive(), "training ended before the signal: " + Files.readString(err));
            p.destroy(); // SIGTERM
            while (p.isAlive() && !Files.readString(err).contains("SIGTERM: finishing this step")) {
                Thread.sleep(20);
            }
            p.destroy(); // the second SIGTERM
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "exits");
            String stderr = Files.readString(err);
            assertEquals(143, p.exitValue(), stderr);
            assertTrue(stderr.contains("leanseg train: second SIGTERM: exiting now, without a checkpoint"), stderr);
            String text = Files.readString(log);
            assertTrue(!text.contains("saved checkpoint") && !text.contains("stopped by"), "the step was not finished: " + text);
            assertTrue(!Files.exists(dir.resolve("sig").resolve("last_checkpoint")), "no checkpoint");
        } finally {
            p.destroyForcibly();
        }
    }
}
