package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.config.TrainingConfig;

/**
 * Issue 12 item 12: a fixed-iteration learning floor. The default model (width-0.5 MobileNetV2
 * DeepLabV3+, as {@code train --print-config} prints it) trains through {@link Trainer#run}, the
 * code {@code leanseg train} runs, for a fixed number of iterations on a small synthetic set, and
 * its validation mIoU must clear a floor above what predicting background everywhere scores.
 * Bounded by iterations, never by time.
 *
 * <p>The recipe keeps the model and changes only data and optimiser settings so that it learns
 * within a few hundred iterations: 24x24 images with one flat shape each, batch 8, AdamW at
 * lr 0.002, background weighted 0.2 in the loss (the default recipe at 32x32 stays at the
 * background-only score for its first 400 iterations). The reference backend is pure Java with
 * results independent of the thread count, so the figure is the same on every machine.
 *
 * <p>Measured 2026-12-07 (2-core EPYC VM under load 12-15; two runs gave the same figure bit for bit):
 * <pre>
 * java -jar target/leanseg.jar train --device reference --set data.synthetic.image_size=24 \
 *   --set data.crop_size=24 --set data.synthetic.max_shapes=1 --set data.synthetic.textured=0 \
 *   --set data.synthetic.val_size=32 --set train.batch=8 --set train.iters=200 \
 *   --set train.optimizer=adamw --set train.lr=0.002 --set train.warmup_iters=10 \
 *   --set "train.class_weights=[0.2,1,1,1,1,1]"
 * </pre>
 * gives mIoU 19.20% (background 86.95, disc 5.08, rectangle 3.84, triangle 0, ring 14.09, cross
 * 5.26). Background everywhere scores 14.64% on these 32 validation images (the same recipe with
 * SGD at lr 0.1 and the default recipe's first few hundred iterations end there). The floor, 17%,
 * sits 2.4 points above that and 2.2 below the measured figure. The test fails where nothing is
 * learned: with {@code train.lr=1e-9} (the config refuses 0) the run ends at 3.45% (the untrained
 * network's guess), and after 20 iterations (no warm-up) at 12.44%.
 *
 * <p>Run: {@code mvn -q test -Dtest=LearningFloorTest}: 35 s of CPU time, 48-68 s wall on this
 * loaded VM; leave it out with {@code -DexcludedGroups=learning}.
 */
@Tag("learning")
class LearningFloorTest {
    /** mIoU (fraction) the recipe must reach: above background-only (0.1464), below the measured 0.1920. */
    static final double FLOOR = 0.17;

    static List<String> recipe(Path workDir, String name) {
        return List.of("work_dir=" + workDir, "name=" + name, "device=reference",
                "data.synthetic.image_size=24", "data.crop_size=24", "data.synthetic.max_shapes=1",
                "data.synthetic.textured=0", "data.synthetic.val_size=32",
                "train.batch=8", "train.iters=200", "train.optimizer=adamw", "train.lr=0.002", "train.warmup_iters=10",
                "train.class_weights=[0.2,1,1,1,1,1]", "train.log_interval=50", "train.eval_interval=0",
                "train.checkpoint_interval=0");
    }

    @Test
    void defaultModelClearsTheFloorAfterAFixedNumberOfIterations(@TempDir Path dir) throws IOException {
        TrainingConfig cfg = TrainingConfig.load(null, recipe(dir, "floor"));
        TrainingConfig defaults = TrainingConfig.load(null, List.of());
        assertEquals(defaults.model(), cfg.model(), "the floor is about the default model");
        Trainer.Result r = new Trainer(cfg, ResumeTest.quiet(), false).run(null, null, false);
        assertEquals(200, r.losses().size(), "bounded by iterations");
        JsonNode val = lastVal(dir.resolve("floor").resolve("metrics.jsonl"));
        System.out.println("learning floor: " + val);
        assertTrue(r.lastMIoU() >= FLOOR, String.format("mIoU %.2f%% after 200 iterations is below the floor %.0f%% "
                + "(background everywhere: 14.64%%; measured 19.20%% on 2026-12-07); per-class IoU %s",
                100 * r.lastMIoU(), 100 * FLOOR, val.get("perClassIoU")));
        int foreground = 0;
        for (int c = 1; c < val.get("perClassIoU").size(); c++) {
            foreground += val.get("perClassIoU").get(c).asDouble() > 0.01 ? 1 : 0;
        }
        assertTrue(foreground >= 2, "shapes of at least two classes found (IoU > 1%): " + val.get("perClassIoU"));
    }

    private static JsonNode lastVal(Path metrics) throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode last = null;
        for (String line : Files.readAllLines(metrics)) {
            JsonNode rec = json.readTree(line);
            if ("val".equals(rec.path("type").asText())) {
                last = rec;
            }
        }
        assertTrue(last != null, "no val record in " + metrics);
        return last;
    }
}
