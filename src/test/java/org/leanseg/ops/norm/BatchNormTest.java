package org.leanseg.ops.norm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Value;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;
import org.leanseg.testing.OpRun;

/** BatchNorm: forward and running statistics against the MODEL_SPEC formulas, gradients, errors. */
class BatchNormTest {
    private static final double EPS = 1e-5;
    private static final double MOMENTUM = 0.1;

    /** Per-channel mean and biased variance of x [N,C,H,W], in double. */
    private static double[][] stats(Tensor x) {
        Shape s = x.shape();
        int nb = s.dim(0);
        int ch = s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        double[][] mv = new double[2][ch];
        for (int c = 0; c < ch; c++) {
            double sum = 0;
            double sq = 0;
            for (int b = 0; b < nb; b++) {
                for (int i = 0; i < hw; i++) {
                    sum += x.data()[(b * ch + c) * hw + i];
                }
            }
            double mean = sum / (nb * hw);
            for (int b = 0; b < nb; b++) {
                for (int i = 0; i < hw; i++) {
                    double d = x.data()[(b * ch + c) * hw + i] - mean;
                    sq += d * d;
                }
            }
            mv[0][c] = mean;
            mv[1][c] = sq / (nb * hw);
        }
        return mv;
    }

    private static void assertClose(double[] expected, float[] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], tol * Math.max(1, Math.abs(expected[i])), what + "[" + i + "]");
        }
    }

    @Test
    void trainingForwardAndRunningStatsOverTwoSteps() {
        // the second shape is large enough for the kernel to split channels over threads
        for (Shape s : List.of(Shape.of(2, 3, 4, 5), Shape.of(2, 24, 16, 16))) {
            checkTwoTrainingSteps(s, new Random(11));
        }
    }

    private static void checkTwoTrainingSteps(Shape s, Random rnd) {
        int ch = s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        int n = s.dim(0) * hw;
        Tensor gamma = Tensor.uniform(Shape.of(ch), 0.5, 1.5, rnd);
        Tensor beta = Tensor.uniform(Shape.of(ch), -0.5, 0.5, rnd);
        Tensor rm = Tensor.zeros(Shape.of(ch));
        Tensor rv = Tensor.uniform(Shape.of(ch), 1, 1, rnd);
        double[] expRm = new double[ch];
        double[] expRv = new double[ch];
        java.util.Arrays.fill(expRv, 1);
        for (int step = 0; step < 2; step++) {
            Tensor x = Tensor.uniform(s, -2 + step, 3, rnd);
            OpRun.Result r = OpRun.run(new BatchNorm(EPS, MOMENTUM, true), x, gamma, beta, rm, rv);
            double[][] mv = stats(x);
            double[] invStd = new double[ch];
            double[] y = new double[x.data().length];
            for (int c = 0; c < ch; c++) {
                invStd[c] = 1 / Math.sqrt(mv[1][c] + EPS);
                expRm[c] = (1 - MOMENTUM) * expRm[c] + MOMENTUM * mv[0][c];
                expRv[c] = (1 - MOMENTUM) * expRv[c] + MOMENTUM * mv[1][c] * n / (n - 1);
            }
            for (int i = 0; i < y.length; i++) {
                int c = (i / hw) % ch;
                y[i] = (x.data()[i] - mv[0][c]) * invStd[c] * gamma.data()[c] + beta.data()[c];
            }
            String at = " " + s + " step " + step;
            assertClose(y, r.output(0).data(), 1e-5, "y" + at);
            assertClose(mv[0], r.output(1).data(), 1e-6, "saveMean" + at);
            assertClose(invStd, r.output(2).data(), 1e-6, "saveInvStd" + at);
            rm = r.input(3);
            rv = r.input(4);
            assertClose(expRm, rm.data(), 1e-6, "runningMean" + at);
            assertClose(expRv, rv.data(), 1e-6, "runningVar" + at);
        }
    }

    @Test
    void replayEqualsTrainingBitForBitAndLeavesRunningStatsAlone() {
        Random rnd = new Random(14);
        Shape s = Shape.of(2, 24, 16, 16);
        Tensor x = Tensor.uniform(s, -2, 3, rnd);
        Tensor gamma = Tensor.uniform(Shape.of(24), 0.5, 1.5, rnd);
        Tensor beta = Tensor.uniform(Shape.of(24), -0.5, 0.5, rnd);
        Tensor rm = Tensor.uniform(Shape.of(24), -0.2, 0.2, rnd);
        Tensor rv = Tensor.uniform(Shape.of(24), 0.5, 1.5, rnd);
        BatchNorm bn = new BatchNorm(EPS, MOMENTUM, true);
        OpRun.Result train = OpRun.run(bn, x, gamma, beta, rm, rv);
        assertEquals(new BatchNorm(EPS, 0, BatchNorm.Mode.REPLAY), bn.recomputeOp());
        assertEquals(new BatchNorm(EPS, 0, BatchNorm.Mode.REPLAY), bn.with(BatchNorm.Mode.TRAIN_IN_PLACE).recomputeOp());
        assertEquals(new BatchNorm(EPS, MOMENTUM, false), new BatchNorm(EPS, MOMENTUM, false).recomputeOp(), "eval BN replays itself");
        OpRun.Result replay = OpRun.run(bn.recomputeOp(), x, gamma, beta, rm, rv);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(train.output(i).data(), replay.output(i).data(), "output " + i);
        }
        assertArrayEquals(rm.data(), replay.input(3).data(), "running mean untouched");
        assertArrayEquals(rv.data(), replay.input(4).data(), "running var untouched");
        assertEquals(0, bn.recomputeOp().mutatedInputs().length);
    }

    @Test
    void evalUsesRunningStatsAndLeavesThemAlone() {
        Random rnd = new Random(12);
        Tensor x = Tensor.uniform(Shape.of(3, 2, 3, 1), -1, 1, rnd);
        Tensor gamma = Tensor.of(Shape.of(2), 2f, -1f);
        Tensor beta = Tensor.of(Shape.of(2), 0.5f, 0.25f);
        Tensor rm = Tensor.of(Shape.of(2), 0.1f, -0.3f);
        Tensor rv = Tensor.of(Shape.of(2), 0.5f, 2f);
        OpRun.Result r = OpRun.run(new BatchNorm(EPS, MOMENTUM, false), x, gamma, beta, rm, rv);
        assertEquals(1, r.outputs().size());
        double[] y = new double[x.data().length];
        for (int i = 0; i < y.length; i++) {
            int c = (i / 3) % 2;
            y[i] = (x.data()[i] - rm.data()[c]) / Math.sqrt(rv.data()[c] + EPS) * gamma.data()[c] + beta.data()[c];
        }
        assertClose(y, r.output(0).data(), 1e-6, "y");
        assertArrayEquals(rm.data(), r.input(3).data());
        assertArrayEquals(rv.data(), r.input(4).data());
        assertEquals(0, new BatchNorm(EPS, MOMENTUM, false).mutatedInputs().length);
        assertArrayEquals(new int[] {3, 4}, new BatchNorm(EPS, MOMENTUM, true).mutatedInputs());
    }

    @Test
    void singleValuePerChannelStaysFinite() {
        // n = N*H*W = 1: biased variance 0, unbiased taken as 0 too (PyTorch would raise)
        Tensor x = Tensor.of(Shape.of(1, 2, 1, 1), 3f, -4f);
        OpRun.Result r = OpRun.run(BatchNorm.of(true), x, Tensor.of(Shape.of(2), 1f, 2f),
                Tensor.of(Shape.of(2), 0.5f, 0.25f), Tensor.of(Shape.of(2), 0f, 0f), Tensor.of(Shape.of(2), 1f, 1f));
        assertArrayEquals(new float[] {0.5f, 0.25f}, r.output(0).data());
        assertArrayEquals(new float[] {0.3f, -0.4f}, r.input(3).data(), 1e-7f);
        assertArrayEquals(new float[] {0.9f, 0.9f}, r.input(4).data(), 1e-7f);
    }

    private static GradCheck bnCase(Shape s, Random rnd) {
        int c = s.dim(1);
        return new GradCheck().tolerance(3e-3).input(Tensor.uniform(s, -1, 1, rnd)).input(Tensor.uniform(Shape.of(c), 0.5, 1.5, rnd))
                .input(Tensor.uniform(Shape.of(c), -0.5, 0.5, rnd))
                .constant(Tensor.uniform(Shape.of(c), -0.2, 0.2, rnd)).constant(Tensor.uniform(Shape.of(c), 0.5, 1.5, rnd));
    }

    @Test
    void gradientsTrainingAndEval() {
        Random rnd = new Random(13);
        for (Shape s : List.of(Shape.of(2, 3, 5, 3), Shape.of(3, 2, 1, 7), Shape.of(4, 1, 1, 1))) {
            for (boolean training : new boolean[] {true, false}) {
                bnCase(s, rnd).check("batch_norm training=" + training + " " + s,
                        (g, in) -> List.of(g.apply(new BatchNorm(EPS, MOMENTUM, training), in.toArray(new Value[0])).get(0)));
            }
        }
        // large enough for the kernels to split channels over threads
        bnCase(Shape.of(2, 24, 16, 16), rnd).maxPerInput(20).check("batch_norm training large",
                (g, in) -> List.of(g.apply(new BatchNorm(EPS, MOMENTUM, true), in.toArray(new Value[0])).get(0)));
    }

    @Test
    void badArgumentsNameOpStageAndShapes() {
        Graph g = new Graph();
        Value x = g.input("x", TensorSpec.f32(2, 3, 4, 4));
        Value v3 = g.input("v3", TensorSpec.f32(3));
        Value v4 = g.input("v4", TensorSpec.f32(4));
        GraphException e;
        try (var s = g.scope("backbone")) {
            e = assertThrows(GraphException.class, () -> g.apply(BatchNorm.of(true), x, v4, v3, v3, v3));
        }
        String m = e.getMessage();
        assertTrue(m.contains("batch_norm") && m.contains("backbone") && m.contains("gamma")
                && m.contains("[2, 3, 4, 4]") && m.contains("[4]"), m);
        GraphException few = assertThrows(GraphException.class, () -> g.apply(BatchNorm.of(false), x, v3));
        assertTrue(few.getMessage().contains("5 inputs"), few.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BatchNorm(0, 0.1, true));
    }
}
