package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.VariableStore;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/** A gamma at zero switches that layer's BN to stock and training continues with the same momenta. */
class StepRunnerTest {
    @Test
    void zeroGammaRebuildsWithStockBatchNorm() {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        VariableStore store = new VariableStore();
        m.params().initialize(store, 5);
        Tensor gamma = store.get(m.params().get("backbone.features.2.conv.0.1.weight"));
        Arrays.fill(gamma.data(), 0f);
        Random rnd = new Random(1);
        Tensor x = Tensor.gaussian(Shape.of(2, 3, 32, 32), 1, rnd);
        int[] labels = new int[2 * 32 * 32];
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(5);
        }
        List<String> log = new ArrayList<>();
        try (StepRunner r = new StepRunner(m, 2, 32, 32, OptimizerSettings.pytorchDefault(), 1, new ReferenceBackend(), store, log::add)) {
            float l1 = r.micro(x, Tensor.labels(Shape.of(2, 32, 32), labels), 0.01f, 1);
            float l2 = r.micro(x, Tensor.labels(Shape.of(2, 32, 32), labels), 0.01f, 1);
            assertTrue(Float.isFinite(l1) && Float.isFinite(l2));
        }
        assertEquals(1, log.size(), log.toString());
        assertTrue(log.get(0).contains("switched from in place to stock"), log.get(0));
    }
}
