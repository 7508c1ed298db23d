package org.leanseg.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.TrainingConfig;
import org.leanseg.train.Trainer;

/**
 * Issue 12 item 5: the default model, trained at 32x32, runs a 512x512 image whole when memory
 * allows (the budget is the backend's free memory, not the training step's peak) and eval, predict
 * and benchmark say which mode ran; a tiny eval.memory_budget forces slide windows and says so.
 */
class InferenceModeTest {
    // the default model (width-0.5 MobileNetV2) on 32x32 synthetic data; one step is enough for a checkpoint
    private static final List<String> SETS = List.of("data.crop_size=32", "data.synthetic.image_size=32", "data.synthetic.train_size=16", "data.synthetic.val_size=2",
            "train.iters=1", "train.eval_interval=0", "device=cpu");

    @TempDir
    static Path dir;
    static Path checkpoint;

    @BeforeAll
    static void train() throws IOException {
        List<String> sets = new java.util.ArrayList<>(SETS);
        sets.addAll(List.of("work_dir=" + dir, "name=run"));
        new Trainer(TrainingConfig.load(null, sets), new PrintStream(new ByteArrayOutputStream()), false).run(null, null, false);
        checkpoint = dir.resolve("run").resolve("iter_000001.safetensors");
        assertTrue(Files.isRegularFile(checkpoint));
    }

    private static String benchmark(String... extra) {
        List<String> a = new java.util.ArrayList<>(List.of("benchmark", "--checkpoint", checkpoint.toString(), "--size", "512x512",
                "--images", "1", "--warmup", "0"));
        a.addAll(List.of(extra));
        Object[] r = VocCommandsTest.capture(a.toArray(String[]::new));
        assertEquals(0, r[0], r[1] + "\n" + r[2]);
        return (String) r[1];
    }

    @Test
    void benchmarkRunsA512ImageWholeWithinFreeMemoryAndSaysSo() {
        String out = benchmark();
        assertTrue(out.contains("benchmark: 1 images (512x512 random) after 0 warm-up, whole (largest plan "), out);
        assertTrue(out.contains("within the memory budget of ") && out.contains("free host memory"), out);
        assertFalse(out.contains("slide") || out.contains("over the memory budget"), out);
    }

    @Test
    void aTinyBudgetForcesSlideWindowsOfTheTrainingCropAndSaysSo() {
        String out = benchmark("--set", "eval.memory_budget=1MiB");
        assertTrue(out.contains("whole-image inference of a 512x512 (HxW) image plans"), out);
        assertTrue(out.contains("benchmark: 1 images (512x512 random) after 0 warm-up, slide 32x32 stride 21x21 "
                + "(every whole image plans over the memory budget of 1.00 MiB: eval.memory_budget)"), out);
    }

    @Test
    void evalAndPredictReportTheModeUsed() throws IOException {
        Path json = dir.resolve("eval.json");
        Object[] r = VocCommandsTest.capture("eval", "--checkpoint", checkpoint.toString(), "--out", json.toString());
        assertEquals(0, r[0], r[1] + "\n" + r[2]);
        assertTrue(((String) r[1]).contains(" on 2 images (whole (largest plan "), (String) r[1]);
        String used = new ObjectMapper().readTree(json.toFile()).get("mode_used").asText();
        assertTrue(used.startsWith("whole (largest plan ") && used.contains("free host memory"), used);

        Path image = dir.resolve("in.png");
        javax.imageio.ImageIO.write(new java.awt.image.BufferedImage(96, 64, java.awt.image.BufferedImage.TYPE_INT_RGB), "png",
                image.toFile());
        r = VocCommandsTest.capture("predict", "--checkpoint", checkpoint.toString(), "--input", image.toString(),
                "--out", dir.resolve("masks").toString(), "--set", "eval.memory_budget=1MiB");
        assertEquals(0, r[0], r[1] + "\n" + r[2]);
        assertTrue(((String) r[1]).contains("inference: slide 32x32 stride 21x21 (every whole image plans over the memory "
                + "budget of 1.00 MiB: eval.memory_budget)"), (String) r[1]);
    }
}
