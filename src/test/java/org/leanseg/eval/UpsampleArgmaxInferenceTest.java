package org.leanseg.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelConfig;
import org.leanseg.ops.loss.Argmax;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.testing.OpRun;

/** eval/predict masks come from the stride-4 logits (UpsampleArgmax) and equal argmax of the full-resolution logits. */
class UpsampleArgmaxInferenceTest {
    @Test
    void argmaxGraphsNeverHoldFullResolutionLogitsAndGiveTheSameMask() {
        VariableStore store = new VariableStore();
        DeepLabV3Plus model = new DeepLabV3Plus(ModelConfig.of("deeplabv3plus_mobilenetv2").withWidth(0.25)
                .withHead(new int[] {2, 3, 6}, 16, 8, 16).withClasses(150));
        model.params().initialize(store, 5);
        Shape shape = Shape.of(2, 3, 64, 48);
        Tensor image = Tensor.gaussian(shape, 1, new Random(7));
        try (InferenceGraphs g = new InferenceGraphs(model, new ReferenceBackend(), store, 0)) {
            Tensor mask = g.run(image, true);
            Tensor logits = g.run(image, false);
            assertArrayEquals(OpRun.run(new Argmax(), logits).output(0).data(), mask.data());
            long fullLogitsBytes = 4L * 2 * 150 * 64 * 48;
            long masked = g.planned(shape, true).arenaBytes();
            long full = g.planned(shape, false).arenaBytes();
            assertTrue(masked + fullLogitsBytes / 2 < full + 4L * 2 * 64 * 48,
                    "the argmax graph holds no full-resolution logits: " + masked + " vs " + full);
        }
    }
}
