package org.leanseg.ops.loss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.OpException;
import org.leanseg.ops.shape.Resize;
import org.leanseg.ops.shape.ResizeBackward;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;
import org.leanseg.testing.OpRun;

/** The fused upsample + cross-entropy (Note [Fused upsample loss]) against the unfused pair, finite differences, errors. */
class UpsampleSoftmaxCrossEntropyTest {
    private static final int IGNORE = 255;

    private static Tensor labels(Random rnd, int classes, int... dims) {
        int[] l = new int[Shape.of(dims).size()];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextInt(6) == 0 ? IGNORE : rnd.nextInt(classes);
        }
        return Tensor.labels(Shape.of(dims), l);
    }

    /** The unfused loss and dLogits (stride-4 grid) of resize then CE. */
    private static Tensor[] unfused(Resize r, SoftmaxCrossEntropy ce, Tensor low, Tensor labels, float dLoss) {
        Tensor up = OpRun.run(r, low).output(0);
        Tensor loss = OpRun.run(ce, up, labels).output(0);
        Tensor dUp = OpRun.run(new SoftmaxCrossEntropyBackward(ce.ignoreIndex(), ce.classWeights()), up, labels,
                Tensor.of(Shape.of(1), dLoss)).output(0);
        Shape s = low.shape();
        Tensor dLow = OpRun.run(new ResizeBackward(s.dim(2), s.dim(3), r.alignCorners()), dUp).output(0);
        return new Tensor[] {loss, dLow};
    }

    @Test
    void equalsTheUnfusedPair() {
        Random rnd = new Random(111);
        float[] w = {0.5f, 2f, 1f, 0f, 3f};
        // {N, K, h, w, H, W, alignCorners}: x4 as DeepLabV3+, odd sizes, a downscale, align_corners
        int[][] cases = {{2, 5, 4, 5, 16, 20, 0}, {1, 5, 3, 7, 13, 9, 0}, {2, 5, 9, 8, 5, 6, 0}, {1, 5, 4, 3, 13, 11, 1}, {3, 5, 8, 8, 32, 32, 0}};
        for (int[] c : cases) {
            Tensor low = Tensor.gaussian(Shape.of(c[0], c[1], c[2], c[3]), 2, rnd);
            Tensor lab = labels(rnd, c[1], c[0], c[4], c[5]);
            Resize r = new Resize(c[4], c[5], c[6] == 1);
            for (float[] weights : new float[][] {null, w}) {
                SoftmaxCrossEntropy ce = new SoftmaxCrossEntropy(IGNORE, weights);
                UpsampleSoftmaxCrossEntropy fused = UpsampleSoftmaxCrossEntropy.of(r, ce);
                Tensor[] want = unfused(r, ce, low, lab, 0.7f);
                float loss = OpRun.run(fused, low, lab).output(0).data()[0];
                Tensor dLow = OpRun.run(new UpsampleSoftmaxCrossEntropyBackward(c[4], c[5], c[6] == 1, IGNORE, weights), low, lab,
                        Tensor.of(Shape.of(1), 0.7f)).output(0);
                String what = java.util.Arrays.toString(c) + (weights == null ? "" : " weighted");
                assertEquals(want[0].data()[0], loss, 1e-6f * Math.abs(want[0].data()[0]), what + ": loss");
                assertEquals(want[1].shape(), dLow.shape(), what);
                float[] a = want[1].data();
                float[] b = dLow.data();
                double max = 0;
                for (float v : a) {
                    max = Math.max(max, Math.abs(v));
                }
                for (int i = 0; i < a.length; i++) {
                    assertEquals(a[i], b[i], 1e-6 * max, what + ": dLogits[" + i + "]");
                }
            }
        }
    }

    @Test
    void upsampleArgmaxEqualsResizeThenArgmaxTiesIncluded() {
        Random rnd = new Random(114);
        int[][] cases = {{2, 5, 4, 5, 16, 20, 0}, {1, 3, 3, 7, 13, 9, 1}, {1, 4, 2, 2, 8, 8, 0}};
        for (int[] c : cases) {
            Tensor low = Tensor.gaussian(Shape.of(c[0], c[1], c[2], c[3]), 2, rnd);
            if (c[2] == 2) {
                java.util.Arrays.fill(low.data(), 0, low.data().length / 2, 1f); // classes 0 and 1 tie everywhere
            }
            Resize r = new Resize(c[4], c[5], c[6] == 1);
            Tensor want = OpRun.run(new Argmax(), OpRun.run(r, low).output(0)).output(0);
            Tensor got = OpRun.run(UpsampleArgmax.of(r), low).output(0);
            assertEquals(want.shape(), got.shape());
            assertArrayEquals(want.data(), got.data(), java.util.Arrays.toString(c));
        }
    }

    @Test
    void finiteDifferences() {
        Random rnd = new Random(112);
        float[] w = {0.25f, 1.25f, 2.25f};
        for (boolean align : new boolean[] {false, true}) {
            Tensor low = Tensor.uniform(Shape.of(2, 3, 3, 4), -2, 2, rnd);
            Tensor lab = labels(rnd, 3, 2, 9, 13);
            for (float[] weights : new float[][] {null, w}) {
                UpsampleSoftmaxCrossEntropy op = new UpsampleSoftmaxCrossEntropy(9, 13, align, IGNORE, weights);
                new GradCheck().tolerance(3e-3).input(low).constant(lab)
                        .check(op.toString(), (g, in) -> List.of(g.apply1(op, in.get(0), in.get(1))));
            }
        }
    }

    @Test
    void allIgnoredGivesZeroLossAndGradient() {
        Tensor low = Tensor.uniform(Shape.of(1, 4, 2, 2), -3, 3, new Random(113));
        int[] ignored = new int[64];
        java.util.Arrays.fill(ignored, IGNORE);
        Tensor lab = Tensor.labels(Shape.of(1, 8, 8), ignored);
        assertEquals(0f, OpRun.run(new UpsampleSoftmaxCrossEntropy(8, 8, false, IGNORE, null), low, lab).output(0).data()[0]);
        float[] d = OpRun.run(new UpsampleSoftmaxCrossEntropyBackward(8, 8, false, IGNORE, null), low, lab,
                Tensor.of(Shape.of(1), 1f)).output(0).data();
        assertArrayEquals(new float[d.length], d);
    }

    @Test
    void badInputsNameTheProblem() {
        UpsampleSoftmaxCrossEntropy op = new UpsampleSoftmaxCrossEntropy(8, 8, false, IGNORE, null);
        OpException e = assertThrows(OpException.class, () -> op.infer(List.of(TensorSpec.f32(1, 4, 2, 2), TensorSpec.i32(1, 4, 4))));
        assertTrue(e.getMessage().contains("labels"), e.getMessage());
        assertThrows(OpException.class, () -> new UpsampleSoftmaxCrossEntropy(8, 8, false, IGNORE, new float[] {1, 2})
                .infer(List.of(TensorSpec.f32(1, 4, 2, 2), TensorSpec.i32(1, 8, 8))));
        assertThrows(IllegalArgumentException.class, () -> new UpsampleSoftmaxCrossEntropy(0, 8, false, IGNORE, null));
        int[] bad = new int[64];
        bad[5] = 7;
        RuntimeException label = assertThrows(RuntimeException.class, () -> OpRun.run(op, Tensor.uniform(Shape.of(1, 4, 2, 2), -1, 1, new Random(1)),
                Tensor.labels(Shape.of(1, 8, 8), bad)));
        String message = label.getMessage() + (label.getCause() == null ? "" : label.getCause().getMessage());
        assertTrue(message.contains("label 7"), message);
    }
}
