package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 12 item 6: {@code train --resume} without the original {@code --set} flags continues with
 * the run's own config (not the defaults' 8000 iterations), says which config it took and what a
 * flag overrides, and resuming a finished run says there is nothing to do (no "mIoU NaN").
 */
class ResumeConfigTest {
    @Test
    void resumeTakesTheRunsOwnConfigAndAFinishedRunSaysSo(@TempDir Path dir) {
        Object[] first = VocCommandsTest.capture(tinyRun(dir, 3));
        assertEquals(0, first[0], first[1] + "\n" + first[2]);
        Path run = dir.resolve("r");

        Object[] again = VocCommandsTest.capture("train", "--resume", run.toString());
        String out = (String) again[1];
        assertEquals(0, again[0], out + "\n" + again[2]);
        assertTrue(out.contains("resume: the run's config from ") && out.contains(", unchanged"), out);
        assertTrue(out.contains("nothing to do: the run had finished all 3 iterations; best mIoU "), out);
        assertFalse(out.contains("NaN"), out);

        Object[] more = VocCommandsTest.capture("train", "--resume", run.toString(), "--set", "train.iters=5");
        out = (String) more[1];
        assertEquals(0, more[0], out + "\n" + more[2]);
        assertTrue(out.contains("overriding train.iters"), out);
        assertTrue(out.contains("done: 5 iterations"), out);
    }

    /** A tiny reference-backend run of {@code iters} iterations into {@code dir}/r. */
    private static String[] tinyRun(Path dir, int iters) {
        List<String> a = new ArrayList<>(List.of("train"));
        for (String s : List.of("model.width=0.25", "model.aspp_channels=16", "model.low_level_channels=8",
                "model.decoder_channels=16", "data.synthetic.train_size=8", "data.synthetic.val_size=2", "train.batch=2",
                "train.iters=" + iters, "train.warmup_iters=0", "train.eval_interval=0", "device=reference", "work_dir=" + dir, "name=r")) {
            a.add("--set");
            a.add(s);
        }
        return a.toArray(String[]::new);
    }

    /** A tiny run of 2 iterations, then {@code --resume} to 4 with {@code change} set; the resume's (rc, out, err). */
    private static Object[] resumeAfterTwoIterations(Path dir, String change) {
        Object[] first = VocCommandsTest.capture(tinyRun(dir, 2));
        assertEquals(0, first[0], first[1] + "\n" + first[2]);
        return VocCommandsTest.capture("train", "--resume", dir.resolve("r").toString(), "--set", "train.iters=4", "--set", change);
    }

    @Test
    void anFp32CheckpointResumesInFp16WithAFreshLossScale(@TempDir Path dir) {
        Object[] fp16 = resumeAfterTwoIterations(dir, "train.precision=fp16");
        String out = (String) fp16[1];
        assertEquals(0, fp16[0], out + "\n" + fp16[2]);
        assertTrue(out.contains("has no fp16 loss-scaling state") && out.contains("starts at 2^16"), out);
        assertTrue(out.contains("done: 4 iterations"), out);
    }

    @Test
    void resumingWithAnotherOptimizerSaysWhichStateIsMissing(@TempDir Path dir) {
        Object[] adam = resumeAfterTwoIterations(dir, "train.optimizer=adamw");
        String all = adam[1] + "\n" + adam[2];
        assertEquals(2, adam[0], all);
        assertTrue(all.contains("lacks the optimizer state train.optimizer needs") && all.contains("--load-from"), all);
        assertFalse(all.contains("\tat org."), all);
    }
}
