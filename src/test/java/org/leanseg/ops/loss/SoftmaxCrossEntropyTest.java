package org.leanseg.ops.loss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Value;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;
import org.leanseg.testing.OpRun;

/** Softmax cross-entropy: hand-computed values, ignore index, class weights, gradients, errors. */
class SoftmaxCrossEntropyTest {
    private static final int IGNORE = 255;
    /** logits [1, 3, 1, 2]: pixel 0 has logits (1, 2, 3), pixel 1 has (0, 0, 0). */
    private static final Tensor LOGITS = Tensor.of(Shape.of(1, 3, 1, 2), 1, 0, 2, 0, 3, 0);

    private static Tensor gradient(SoftmaxCrossEntropy op, Tensor logits, Tensor labels, float dLoss) {
        return OpRun.run(new SoftmaxCrossEntropyBackward(op.ignoreIndex(), op.classWeights()), logits, labels,
                Tensor.of(Shape.of(1), dLoss)).output(0);
    }

    @Test
    void handComputedWithOneIgnoredPixel() {
        Tensor labels = Tensor.labels(Shape.of(1, 1, 2), 2, IGNORE);
        SoftmaxCrossEntropy op = SoftmaxCrossEntropy.of(IGNORE);
        // -log softmax(1,2,3)[2] = log(e^1 + e^2 + e^3) - 3 = 0.40760596444438013; pixel 1 ignored
        assertEquals(0.40760596f, OpRun.run(op, LOGITS, labels).output(0).data()[0], 1e-7f);
        // d/dz = softmax - onehot = (0.0900306, 0.2447285, 0.6652410 - 1) for pixel 0, 0 for pixel 1
        assertArrayEquals(new float[] {0.09003057f, 0, 0.24472847f, 0, -0.33475904f, 0},
                gradient(op, LOGITS, labels, 1f).data(), 1e-7f);
        assertArrayEquals(new float[] {0.18006115f, 0, 0.48945694f, 0, -0.66951809f, 0},
                gradient(op, LOGITS, labels, 2f).data(), 2e-7f);
    }

    @Test
    void classWeightsAverageByWeight() {
        Tensor labels = Tensor.labels(Shape.of(1, 1, 2), 2, 0);
        SoftmaxCrossEntropy op = new SoftmaxCrossEntropy(IGNORE, new float[] {1f, 2f, 0.5f});
        // (0.5 * 0.40760596 + 1 * log 3) / (0.5 + 1), as PyTorch's weighted mean
        double expected = (0.5 * 0.40760596444438013 + Math.log(3)) / 1.5;
        assertEquals(expected, OpRun.run(op, LOGITS, labels).output(0).data()[0], 1e-7);
        float[] d = gradient(op, LOGITS, labels, 1f).data();
        assertEquals(0.5 / 1.5 * (0.665240955774822 - 1), d[4], 1e-7);
        assertEquals(1 / 1.5 * (1.0 / 3 - 1), d[1], 1e-7);
        assertEquals(1 / 1.5 * (1.0 / 3), d[3], 1e-7);
    }

    @Test
    void allIgnoredGivesExactlyZeroLossAndGradient() {
        Tensor logits = Tensor.uniform(Shape.of(2, 4, 3, 3), -3, 3, new Random(51));
        int[] ignored = new int[18];
        java.util.Arrays.fill(ignored, IGNORE);
        Tensor labels = Tensor.labels(Shape.of(2, 3, 3), ignored);
        for (SoftmaxCrossEntropy op : List.of(SoftmaxCrossEntropy.of(IGNORE), new SoftmaxCrossEntropy(IGNORE, new float[] {1, 2, 3, 4}))) {
            assertEquals(0f, OpRun.run(op, logits, labels).output(0).data()[0]);
            for (float v : gradient(op, logits, labels, 1f).data()) {
                assertEquals(0f, v);
            }
        }
    }

    private static Tensor randomLabels(Shape s, int classes, double ignoreFraction, Random rnd) {
        int[] l = new int[(int) s.numel()];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextDouble() < ignoreFraction ? IGNORE : rnd.nextInt(classes);
        }
        return Tensor.labels(s, l);
    }

    @Test
    void gradientsWithIgnoreAndClassWeights() {
        Random rnd = new Random(52);
        int[][] cases = {{2, 4, 3, 5}, {1, 3, 7, 1}, {3, 2, 2, 3}};
        for (int[] k : cases) {
            Tensor logits = Tensor.uniform(Shape.of(k), -2, 2, rnd);
            Tensor labels = randomLabels(Shape.of(k[0], k[2], k[3]), k[1], 0.3, rnd);
            float[] weights = new float[k[1]];
            for (int c = 0; c < weights.length; c++) {
                weights[c] = 0.25f + c;
            }
            for (SoftmaxCrossEntropy op : List.of(SoftmaxCrossEntropy.of(IGNORE), new SoftmaxCrossEntropy(IGNORE, weights))) {
                new GradCheck().tolerance(3e-3).input(logits).constant(labels)
                        .check(op + " " + java.util.Arrays.toString(k), (g, in) -> List.of(g.apply1(op, in.get(0), in.get(1))));
            }
        }
    }

    @Test
    void largeBatchMatchesDoubleReimplementation() {
        // [2, 4, 64, 32]: enough rows for the kernels to split over threads
        Random rnd = new Random(53);
        Shape s = Shape.of(2, 4, 64, 32);
        Tensor logits = Tensor.uniform(s, -3, 3, rnd);
        Tensor labels = randomLabels(Shape.of(2, 64, 32), 4, 0.2, rnd);
        float[] weights = {0.5f, 1f, 2f, 0.25f};
        SoftmaxCrossEntropy op = new SoftmaxCrossEntropy(IGNORE, weights);
        int plane = 64 * 32;
        double num = 0;
        double den = 0;
        double[][] prob = new double[2 * plane][4];
        for (int n = 0; n < 2; n++) {
            for (int i = 0; i < plane; i++) {
                int y = (int) labels.data()[n * plane + i];
                double z0 = 0;
                for (int k = 0; k < 4; k++) {
                    z0 += Math.exp(logits.data()[(n * 4 + k) * plane + i]);
                }
                for (int k = 0; k < 4; k++) {
                    prob[n * plane + i][k] = Math.exp(logits.data()[(n * 4 + k) * plane + i]) / z0;
                }
                if (y != IGNORE) {
                    num -= weights[y] * Math.log(prob[n * plane + i][y]);
                    den += weights[y];
                }
            }
        }
        assertEquals(num / den, OpRun.run(op, logits, labels).output(0).data()[0], 1e-6);
        float[] d = gradient(op, logits, labels, 1f).data();
        for (int n = 0; n < 2; n++) {
            for (int i = 0; i < plane; i++) {
                int y = (int) labels.data()[n * plane + i];
                for (int k = 0; k < 4; k++) {
                    double e = y == IGNORE ? 0 : weights[y] / den * (prob[n * plane + i][k] - (k == y ? 1 : 0));
                    assertEquals(e, d[(n * 4 + k) * plane + i], 1e-9);
                }
            }
        }
    }

    @Test
    void largeLogitsStayFinite() {
        Tensor logits = Tensor.of(Shape.of(1, 2, 1, 1), 1000f, -1000f);
        Tensor labels = Tensor.labels(Shape.of(1, 1, 1), 1);
        assertEquals(2000f, OpRun.run(SoftmaxCrossEntropy.of(IGNORE), logits, labels).output(0).data()[0], 1e-3f);
    }

    @Test
    void labelOutOfRangeFailsNamingValueAndStage() {
        Graph g = new Graph();
        Value z = g.input("z", TensorSpec.f32(1, 3, 1, 2));
        Value y = g.input("y", TensorSpec.i32(1, 1, 2));
        Value loss;
        try (var s = g.scope("loss")) {
            loss = g.apply1(SoftmaxCrossEntropy.of(IGNORE), z, y);
        }
        g.markOutput(loss);
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            RuntimeException e = assertThrows(RuntimeException.class,
                    () -> ex.run(Map.of(z, LOGITS, y, Tensor.labels(Shape.of(1, 1, 2), 1, 7))));
            String m = e.getMessage();
            assertTrue(m.contains("softmax_cross_entropy") && m.contains("loss") && m.contains("label 7")
                    && m.contains("[0, 0, 1]") && m.contains("[0, 3)"), m);
        }
    }

    @Test
    void badShapesNameOpStageAndShapes() {
        Graph g = new Graph();
        Value z = g.input("z", TensorSpec.f32(2, 3, 4, 4));
        Value y = g.input("y", TensorSpec.i32(2, 4, 5));
        Value yf = g.input("yf", TensorSpec.f32(2, 4, 4));
        GraphException e;
        try (var s = g.scope("head")) {
            e = assertThrows(GraphException.class, () -> g.apply1(SoftmaxCrossEntropy.of(IGNORE), z, y));
        }
        String m = e.getMessage();
        assertTrue(m.contains("softmax_cross_entropy") && m.contains("head") && m.contains("[2, 4, 5]") && m.contains("[2, 3, 4, 4]"), m);
        assertThrows(GraphException.class, () -> g.apply1(SoftmaxCrossEntropy.of(IGNORE), z, yf));
        GraphException w = assertThrows(GraphException.class, () -> g.apply1(new SoftmaxCrossEntropy(IGNORE, new float[] {1, 2}), z,
                g.input("y2", TensorSpec.i32(2, 4, 4))));
        assertTrue(w.getMessage().contains("2 class weights for 3 classes"), w.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SoftmaxCrossEntropy(IGNORE, new float[] {1, -1}));
    }
}
