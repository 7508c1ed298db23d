package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Variable;
import org.leanseg.graph.passes.StepPasses;
import org.leanseg.io.Safetensors;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.ops.Ops;
import org.leanseg.ops.optim.LossScale;
import org.leanseg.ops.optim.LossScaleUpdate;
import org.leanseg.tensor.Precision;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/** Note [Dynamic loss scaling]: GradScaler's skip, backoff and growth as graph ops, in the log and the checkpoint. */
class LossScalingTest {
    private static float[] update(LossScaleUpdate op, float[] state, float... grad) {
        RefView s = new RefView(state, 0, LossScale.STATE);
        RefView g = new RefView(grad, 0, TensorSpec.f32(grad.length));
        RefView found = new RefView(new float[1], 0, TensorSpec.f32(1));
        Ops.runReference(op, new RefView[] {s, g}, new RefView[] {found});
        return new float[] {state[0], state[1], state[2], found.get(0)};
    }

    @Test
    void theScaleGrowsAfterTheIntervalAndBacksOffOnInfOrNaN() {
        LossScaleUpdate op = new LossScaleUpdate(3);
        float[] state = new float[3];
        assertEquals(65536f, LossScale.scale(state[0]), "GradScaler's initial scale 2^16, from the zero state");
        assertArrayEquals(new float[] {0, 1, 0, 0}, update(op, state, 1f, -2f));
        assertArrayEquals(new float[] {0, 2, 0, 0}, update(op, state, 1f, -2f));
        assertArrayEquals(new float[] {1, 0, 0, 0}, update(op, state, 1f, -2f), "the third clean step doubles the scale");
        assertEquals(131072f, LossScale.scale(state[0]));
        assertArrayEquals(new float[] {1, 1, 0, 0}, update(op, state, 0f));
        assertArrayEquals(new float[] {0, 0, 1, 1}, update(op, state, 1f, Float.POSITIVE_INFINITY), "inf: halve, restart, count a skip");
        assertArrayEquals(new float[] {-1, 0, 2, 1}, update(op, state, Float.NaN, 1f), "NaN too");
        assertEquals(32768f, LossScale.scale(state[0]));
        assertEquals(2000, LossScaleUpdate.GROWTH_INTERVAL, "GradScaler's growth_interval");
    }

    /**
     * A scale of 2^100 overflows the fp16 gradients: the step is skipped (weights and momenta
     * untouched) and the scale halves; with the updates moved into backward (Note [Updates in
     * backward]), none of them runs before the overflow check.
     */
    @Test
    void forcedOverflowSkipsTheStepAndHalvesTheScale() {
        forcedOverflow(new ReferenceBackend(), StepPasses.FUSED.withUpdatesInBackward(true));
    }

    /** The check of {@link #forcedOverflowSkipsTheStepAndHalvesTheScale} on {@code backend} with {@code passes} (closed after). */
    static void forcedOverflow(org.leanseg.backend.Backend backend, StepPasses passes) {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        VariableStore store = new VariableStore();
        m.params().initialize(store, 5);
        Random rnd = new Random(1);
        Tensor x = Tensor.gaussian(Shape.of(2, 3, 32, 32), 1, rnd);
        int[] l = new int[2 * 32 * 32];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextInt(5);
        }
        Tensor labels = Tensor.labels(Shape.of(2, 32, 32), l);
        OptimizerSettings sgd = OptimizerSettings.pytorchDefault();
        Map<String, Variable> state = TrainGraph.optimizerState(m.params(), sgd, Precision.FP16);
        Variable scaling = state.get(TrainGraph.LOSS_SCALE_KEY);
        List<String> log = new ArrayList<>();
        try (backend; StepRunner r = new StepRunner(m, 2, 32, 32, sgd, 1, backend, store, passes, null, Precision.FP16,
                log::add)) {
            for (int i = 0; i < 4; i++) { // GradScaler's first steps: the scale backs off until the gradients fit fp16
                r.micro(x, labels, 0.01f, 1 + i);
            }
            r.syncVariables();
            float skipped = store.get(scaling).data()[2];
            store.get(scaling).data()[0] = 84; // scale 2^100
            Map<Variable, float[]> before = new java.util.HashMap<>();
            for (Variable v : state.values()) {
                before.put(v, store.get(v).data().clone());
            }
            for (Variable p : m.params().parameters()) {
                before.put(p, store.get(p).data().clone());
            }
            float loss = r.micro(x, labels, 0.01f, 5);
            r.syncVariables();
            assertTrue(Float.isFinite(loss), "the forward and its loss are unaffected: " + loss);
            assertArrayEquals(new float[] {83, 0, skipped + 1}, store.get(scaling).data(), "scale halved, one more skipped step");
            assertArrayEquals(new float[] {83, 0, skipped + 1}, r.lossScaleState(), "read back as the trainer logs it");
            for (Map.Entry<Variable, float[]> e : before.entrySet()) {
                if (e.getKey() != scaling) {
                    assertArrayEquals(e.getValue(), store.get(e.getKey()).data(), 0f, e.getKey().name() + " changed in a skipped step");
                }
            }
        }
        assertTrue(log.isEmpty(), log.toString());
    }

    /** The scale and skip count are logged and checkpointed, so a resumed fp16 run is the uninterrupted one, bit for bit. */
    @Test
    void fp16ResumeIsBitExact(@TempDir Path dir) throws IOException {
        Trainer.Result full = new Trainer(ResumeTest.small(dir, "a", "train.precision=fp16"), ResumeTest.quiet(), false).run(null, null, false);
        Path mid = dir.resolve("a").resolve("iter_000003.safetensors");
        float[] midState = Safetensors.readAll(mid).get(TrainGraph.LOSS_SCALE_KEY).data();
        assertEquals(-midState[2], midState[0], 0f, "no growth within 2000 steps: the scale halved once per skip " + java.util.Arrays.toString(midState));
        Trainer.Result resumed = new Trainer(ResumeTest.small(dir, "b", "train.precision=fp16"), ResumeTest.quiet(), false).run(mid, null, false);
        for (int i = 0; i < 3; i++) {
            assertEquals(Float.floatToIntBits(full.losses().get(3 + i)), Float.floatToIntBits(resumed.losses().get(i)),
                    "loss of iteration " + (4 + i));
        }
        Map<String, Tensor> a = Safetensors.readAll(dir.resolve("a").resolve("iter_000006.safetensors"));
        Map<String, Tensor> b = Safetensors.readAll(dir.resolve("b").resolve("iter_000006.safetensors"));
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            assertArrayEquals(a.get(k).data(), b.get(k).data(), 0f, k);
        }
        float[] end = b.get(TrainGraph.LOSS_SCALE_KEY).data();
        assertEquals(-end[2], end[0], 0f, java.util.Arrays.toString(end));
        assertTrue(end[2] >= midState[2], "the resumed run counts on from the checkpoint's skips");
        String metrics = Files.readString(dir.resolve("a").resolve("metrics.jsonl"));
        assertTrue(metrics.contains("\"loss_scale\":") && metrics.contains("\"skipped_steps\":"), metrics);
        String log = Files.readString(dir.resolve("a").resolve("log.txt"));
        assertTrue(log.contains(" skipped steps)") && log.contains("precision fp16"), log);
    }
}
