package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.TrainingConfig;

/** A resumed run continues with bit-identical losses; corrupt or mismatched checkpoints fail clearly. */
class ResumeTest {
    static TrainingConfig small(Path workDir, String name, String... extra) {
        List<String> sets = new java.util.ArrayList<>(List.of("work_dir=" + workDir, "name=" + name,
                "model.width=0.25", "model.aspp_channels=16", "model.low_level_channels=8", "model.decoder_channels=16",
                "data.synthetic.image_size=32", "data.synthetic.train_size=40", "data.synthetic.val_size=4",
                "train.batch=2", "train.iters=6", "train.warmup_iters=2", "train.log_interval=1",
                "train.eval_interval=0", "train.checkpoint_interval=3", "train.keep_last=5"));
        sets.addAll(List.of(extra));
        return TrainingConfig.load(null, sets);
    }

    static PrintStream quiet() {
        return new PrintStream(new ByteArrayOutputStream());
    }

    @Test
    void resumedLossesAreIdenticalToUninterrupted(@TempDir Path dir) throws IOException {
        Trainer.Result full = new Trainer(small(dir, "a"), quiet(), false).run(null, null, false);
        assertEquals(6, full.losses().size());
        Path mid = dir.resolve("a").resolve("iter_000003.safetensors");
        assertTrue(Files.isRegularFile(mid));
        assertTrue(Files.isRegularFile(dir.resolve("a").resolve("iter_000003.json")));
        assertTrue(Files.readString(dir.resolve("a").resolve("last_checkpoint")).contains("iter_000006"));
        Trainer.Result resumed = new Trainer(small(dir, "b"), quiet(), false).run(mid, null, false);
        assertEquals(3, resumed.losses().size());
        for (int i = 0; i < 3; i++) {
            assertEquals(Float.floatToIntBits(full.losses().get(3 + i)), Float.floatToIntBits(resumed.losses().get(i)),
                    "loss of iteration " + (4 + i) + ": " + full.losses().get(3 + i) + " vs resumed " + resumed.losses().get(i));
        }
        try (org.leanseg.io.SafetensorsFile f = org.leanseg.io.SafetensorsFile.open(mid)) {
            org.leanseg.data.Normalization n = org.leanseg.data.Normalization.fromJson(f.metadata().get("normalization"));
            assertEquals(0.41f * 255, n.mean()[0], 1e-3, "synthetic normalisation recorded for prediction");
            assertEquals(0.25f * 255, n.std()[2], 1e-3);
        }
        String metrics = Files.readString(dir.resolve("a").resolve("metrics.jsonl"));
        assertTrue(metrics.contains("\"type\":\"val\"") && metrics.contains("\"mIoU\""), metrics);
    }

    /**
     * Issue 12 item 1: a gamma at 0 makes the step fall back to stock BN for that layer; the
     * checkpoint records it, so the resumed run builds the same step and its losses are the
     * uninterrupted run's, bit for bit (without the record it rebuilt in-place BN and drifted).
     */
    @Test
    void resumeAfterTheInPlaceBatchNormFallbackIsExact(@TempDir Path dir) throws IOException {
        new Trainer(small(dir, "init", "train.iters=1", "train.warmup_iters=0"), quiet(), false).run(null, null, false);
        java.util.Map<String, org.leanseg.tensor.Tensor> weights = new java.util.LinkedHashMap<>(
                org.leanseg.io.Safetensors.readAll(dir.resolve("init").resolve("iter_000001.safetensors")));
        weights.keySet().removeIf(k -> k.startsWith("optimizer/"));
        String gamma = "backbone.features.2.conv.0.1.weight";
        weights.get(gamma).data()[0] = 0f;
        // beta 1 keeps the ReLU6 after it open, so gamma gets gradients and leaves the guard's range by iteration 3
        weights.get(gamma.replace(".weight", ".bias")).data()[0] = 1f;
        Path zeroed = dir.resolve("zeroed.safetensors");
        org.leanseg.io.Safetensors.write(zeroed, weights, java.util.Map.of());

        Trainer.Result full = new Trainer(small(dir, "a"), quiet(), false).run(null, zeroed, false);
        Path mid = dir.resolve("a").resolve("iter_000003.safetensors");
        assertEquals(List.of(gamma), Checkpoints.stateOf(mid).stockBatchNorm(), "the fallback is part of the saved state");
        Trainer.Result resumed = new Trainer(small(dir, "b"), quiet(), false).run(mid, null, false);
        for (int i = 0; i < 3; i++) {
            assertEquals(Float.floatToIntBits(full.losses().get(3 + i)), Float.floatToIntBits(resumed.losses().get(i)),
                    "loss of iteration " + (4 + i) + ": " + full.losses().get(3 + i) + " vs resumed " + resumed.losses().get(i));
        }
        assertTrue(Files.readString(dir.resolve("b").resolve("log.txt")).contains("stock batch norm (not in place) for 1 layer(s)"));
    }

    @Test
    void adamWResumesExactly(@TempDir Path dir) throws IOException {
        Trainer.Result full = new Trainer(small(dir, "a", "train.optimizer=adamw", "train.lr=0.001"), quiet(), false).run(null, null, false);
        Path mid = dir.resolve("a").resolve("iter_000003.safetensors");
        Trainer.Result resumed = new Trainer(small(dir, "b", "train.optimizer=adamw", "train.lr=0.001"), quiet(), false).run(mid, null, false);
        for (int i = 0; i < 3; i++) {
            assertEquals(Float.floatToIntBits(full.losses().get(3 + i)), Float.floatToIntBits(resumed.losses().get(i)));
        }
    }

    @Test
    void gradientAccumulationRunsAndIsDeterministic(@TempDir Path dir) throws IOException {
        Trainer.Result a = new Trainer(small(dir, "acc1", "train.accumulate=2", "train.iters=2"), quiet(), false).run(null, null, false);
        Trainer.Result b = new Trainer(small(dir, "acc2", "train.accumulate=2", "train.iters=2"), quiet(), false).run(null, null, false);
        assertEquals(a.losses(), b.losses());
    }

    @Test
    void corruptAndMismatchedCheckpointsGiveClearErrors(@TempDir Path dir) throws IOException {
        new Trainer(small(dir, "a", "train.iters=3"), quiet(), false).run(null, null, false);
        Path ckpt = dir.resolve("a").resolve("iter_000003.safetensors");
        // another model width
        IOException mismatch = assertThrows(IOException.class,
                () -> new Trainer(small(dir, "c", "model.width=0.5"), quiet(), false).run(ckpt, null, false));
        assertTrue(mismatch.getMessage().contains("differs"), mismatch.getMessage());
        // truncated file
        Path bad = dir.resolve("bad.safetensors");
        byte[] bytes = Files.readAllBytes(ckpt);
        Files.write(bad, java.util.Arrays.copyOf(bytes, bytes.length / 2));
        IOException corrupt = assertThrows(IOException.class,
                () -> new Trainer(small(dir, "d"), quiet(), false).run(bad, null, false));
        assertTrue(corrupt.getMessage().contains("bad.safetensors"), corrupt.getMessage());
    }
}
