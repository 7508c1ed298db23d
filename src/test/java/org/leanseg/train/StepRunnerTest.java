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
import org.leanseg.tensor.Precision;
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

    /**
     * The javadoc's "same momenta": a fallback at step 2 carries step 1's momenta and weights over,
     * so the run equals one in-place step followed by a step built with stock BN for that layer.
     */
    @Test
    void theRebuiltStepContinuesFromTheSameMomenta() {
        String gammaName = "backbone.features.2.conv.0.1.weight";
        Random rnd = new Random(1);
        Tensor x = Tensor.gaussian(Shape.of(2, 3, 32, 32), 1, rnd);
        int[] l = new int[2 * 32 * 32];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextInt(5);
        }
        Tensor labels = Tensor.labels(Shape.of(2, 32, 32), l);
        OptimizerSettings sgd = OptimizerSettings.pytorchDefault();

        DeepLabV3Plus a = new DeepLabV3Plus(ModelTest.tiny());
        VariableStore fallback = new VariableStore();
        a.params().initialize(fallback, 5);
        java.util.Map<String, org.leanseg.graph.Variable> momentaA = TrainGraph.optimizerState(a.params(), sgd);
        List<String> log = new ArrayList<>();
        try (StepRunner r = new StepRunner(a, 2, 32, 32, sgd, 1, new ReferenceBackend(), fallback, log::add)) {
            r.micro(x, labels, 0.01f, 1);
            r.syncVariables();
            fallback.get(a.params().get(gammaName)).data()[0] = 0f; // the guard fires at step 2
            r.micro(x, labels, 0.01f, 2);
            r.syncVariables();
        }
        assertEquals(1, log.size(), "the fallback happened at step 2: " + log);

        DeepLabV3Plus b = new DeepLabV3Plus(ModelTest.tiny());
        VariableStore reference = new VariableStore();
        b.params().initialize(reference, 5);
        java.util.Map<String, org.leanseg.graph.Variable> momentaB = TrainGraph.optimizerState(b.params(), sgd);
        try (StepRunner r = new StepRunner(b, 2, 32, 32, sgd, 1, new ReferenceBackend(), reference, s -> { })) {
            r.micro(x, labels, 0.01f, 1);
            r.syncVariables();
        }
        reference.get(b.params().get(gammaName)).data()[0] = 0f;
        org.leanseg.graph.passes.StepPasses stock = org.leanseg.graph.passes.StepPasses.forBackend("reference")
                .withStockBatchNorm(java.util.Set.of(b.params().get(gammaName)));
        try (StepRunner r = new StepRunner(b, 2, 32, 32, sgd, 1, new ReferenceBackend(), reference, stock, null, Precision.FP32, null, s -> { })) {
            r.micro(x, labels, 0.01f, 2);
            r.syncVariables();
        }
        int checked = 0;
        for (String key : momentaA.keySet()) {
            float[] m = fallback.get(momentaA.get(key)).data();
            org.junit.jupiter.api.Assertions.assertArrayEquals(reference.get(momentaB.get(key)).data(), m, 0f, key);
            checked++;
        }
        assertTrue(checked > 100, checked + " momenta compared");
        for (org.leanseg.nn.ParamSet.Entry e : a.params().entries()) {
            org.junit.jupiter.api.Assertions.assertArrayEquals(reference.get(b.params().get(e.variable().name())).data(),
                    fallback.get(e.variable()).data(), 0f, e.variable().name());
        }
    }
}
