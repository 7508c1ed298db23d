package org.leanseg.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.models.DeepLabV3Plus;
import org.leanseg.models.ModelTest;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;

/**
 * "train.accumulate=N sums the gradients of N micro-batches exactly" (README): the accumulators
 * after N micro-batches equal, bit for bit, the sum of the N gradients each computed alone from
 * the same weights in a fresh store.
 */
class AccumulateTest {
    private static final int N = 3;

    @Test
    void accumulatorsHoldTheExactSumOfSeparateGradients() {
        Random rnd = new Random(11);
        Tensor[] images = new Tensor[N];
        Tensor[] labels = new Tensor[N];
        for (int i = 0; i < N; i++) {
            images[i] = Tensor.gaussian(Shape.of(2, 3, 32, 32), 1, rnd);
            int[] l = new int[2 * 32 * 32];
            for (int k = 0; k < l.length; k++) {
                l[k] = rnd.nextInt(5);
            }
            labels[i] = Tensor.labels(Shape.of(2, 32, 32), l);
        }
        Map<String, float[]> together = accumulated(images, labels, 0, N);
        Map<String, float[]> sum = new HashMap<>();
        for (int i = 0; i < N; i++) {
            accumulated(images, labels, i, i + 1).forEach((k, g) -> {
                float[] s = sum.computeIfAbsent(k, x -> new float[g.length]);
                for (int j = 0; j < g.length; j++) {
                    s[j] += g[j];
                }
            });
        }
        assertEquals(sum.keySet(), together.keySet());
        int nonZero = 0;
        for (String k : together.keySet()) {
            assertArrayEquals(sum.get(k), together.get(k), 0f, k);
            for (float v : together.get(k)) {
                nonZero += v != 0 ? 1 : 0;
            }
        }
        assertTrue(nonZero > 1000, "the gradients are not all zero (" + nonZero + " non-zero)");
    }

    /** The accumulators after micro-batches [from, to) of an accumulate-N step, from the seed-5 weights. */
    private static Map<String, float[]> accumulated(Tensor[] images, Tensor[] labels, int from, int to) {
        DeepLabV3Plus m = new DeepLabV3Plus(ModelTest.tiny());
        VariableStore store = new VariableStore();
        m.params().initialize(store, 5);
        TrainGraph g = new TrainGraph(m, 2, 32, 32, OptimizerSettings.pytorchDefault(), N);
        Map<String, float[]> out = new HashMap<>();
        try (Executor step = new Executor(g.stepGraph(), new ReferenceBackend(), store)) {
            for (int i = from; i < to; i++) {
                Map<Value, Tensor> feeds = new HashMap<>();
                feeds.put(g.image(), images[i]);
                feeds.put(g.label(), labels[i]);
                step.run(feeds);
            }
            step.syncVariables();
        }
        for (Map.Entry<Variable, Variable> e : g.gradientAccumulators().entrySet()) {
            out.put(e.getKey().name(), store.get(e.getValue()).data().clone());
        }
        return out;
    }
}
