package org.leanseg.ops.loss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;
import org.leanseg.testing.GradCheck;
import org.leanseg.testing.OpRun;

/** The distillation loss (Note [Distillation loss]): against a direct formula, finite differences, an identical teacher, errors. */
class DistillKlTest {
    private static final int IGNORE = 255;

    private static Tensor labels(Random rnd, int classes, int... dims) {
        int[] l = new int[Shape.of(dims).size()];
        for (int i = 0; i < l.length; i++) {
            l[i] = rnd.nextInt(5) == 0 ? IGNORE : rnd.nextInt(classes);
        }
        return Tensor.labels(Shape.of(dims), l);
    }

    private static Tensor[] inputs(DistillKl.Kind kind, Tensor s, Tensor t, Tensor labels) {
        return kind == DistillKl.Kind.PIXEL ? new Tensor[] {s, t, labels} : new Tensor[] {s, t};
    }

    private static Tensor[] withDLoss(Tensor[] in, float dLoss) {
        Tensor[] back = java.util.Arrays.copyOf(in, in.length + 1);
        back[in.length] = Tensor.of(Shape.of(1), dLoss);
        return back;
    }

    /** The loss written out plainly: softmaxes over the chosen axis, KL summed, T² / divisor. */
    private static double direct(DistillKl.Kind kind, double temp, Tensor s, Tensor t, Tensor labels) {
        Shape sh = s.shape();
        int n = sh.dim(0);
        int k = sh.dim(1);
        int plane = sh.dim(2) * sh.dim(3);
        double sum = 0;
        double count = 0;
        boolean pixel = kind == DistillKl.Kind.PIXEL;
        int rows = pixel ? n * plane : n * k;
        int len = pixel ? k : plane;
        for (int r = 0; r < rows; r++) {
            if (pixel && labels.data()[r] == IGNORE) {
                continue;
            }
            count++;
            double[] zs = new double[len];
            double[] zt = new double[len];
            for (int i = 0; i < len; i++) {
                int idx = pixel ? (r / plane) * k * plane + i * plane + r % plane : r * plane + i;
                zs[i] = s.data()[idx] / temp;
                zt[i] = t.data()[idx] / temp;
            }
            double ls = 0;
            double lt = 0;
            for (int i = 0; i < len; i++) {
                ls += Math.exp(zs[i]);
                lt += Math.exp(zt[i]);
            }
            for (int i = 0; i < len; i++) {
                double q = Math.exp(zt[i]) / lt;
                sum += q * ((zt[i] - Math.log(lt)) - (zs[i] - Math.log(ls)));
            }
        }
        return count == 0 ? 0 : temp * temp * sum / count;
    }

    @Test
    void equalsTheFormulaForBothKinds() {
        Random rnd = new Random(301);
        for (DistillKl.Kind kind : DistillKl.Kind.values()) {
            for (float temp : new float[] {1f, 4f}) {
                Tensor s = Tensor.gaussian(Shape.of(2, 5, 4, 6), 2, rnd);
                Tensor t = Tensor.gaussian(Shape.of(2, 5, 4, 6), 2, rnd);
                Tensor lab = labels(rnd, 5, 2, 4, 6);
                double want = direct(kind, temp, s, t, lab);
                float got = OpRun.run(new DistillKl(kind, temp, IGNORE), inputs(kind, s, t, lab)).output(0).data()[0];
                assertTrue(want > 0, kind + " T=" + temp);
                assertEquals(want, got, 1e-5 * want, kind + " T=" + temp);
            }
        }
    }

    @Test
    void backwardMatchesFiniteDifferences() {
        Random rnd = new Random(302);
        for (DistillKl.Kind kind : DistillKl.Kind.values()) {
            for (float temp : new float[] {1f, 3f}) {
                Tensor s = Tensor.uniform(Shape.of(2, 4, 3, 5), -2, 2, rnd);
                Tensor t = Tensor.uniform(Shape.of(2, 4, 3, 5), -2, 2, rnd);
                Tensor lab = labels(rnd, 4, 2, 3, 5);
                DistillKl op = new DistillKl(kind, temp, IGNORE);
                GradCheck check = new GradCheck().tolerance(3e-3).input(s).constant(t);
                if (kind == DistillKl.Kind.PIXEL) {
                    check.constant(lab);
                }
                check.check(op.name() + " T=" + temp, (g, in) -> List.of(g.apply1(op, in.toArray(new org.leanseg.graph.Value[0]))));
            }
        }
    }

    @Test
    void aTeacherEqualToTheStudentGivesZeroLossAndZeroGradient() {
        Random rnd = new Random(303);
        for (DistillKl.Kind kind : DistillKl.Kind.values()) {
            Tensor s = Tensor.gaussian(Shape.of(2, 6, 5, 5), 3, rnd);
            Tensor lab = labels(rnd, 6, 2, 5, 5);
            Tensor[] in = inputs(kind, s, s.copy(), lab);
            assertEquals(0f, OpRun.run(new DistillKl(kind, 2f, IGNORE), in).output(0).data()[0], kind + " loss");
            float[] d = OpRun.run(new DistillKlBackward(kind, 2f, IGNORE), withDLoss(in, 1.3f)).output(0).data();
            assertArrayEquals(new float[d.length], d, kind + " gradient");
        }
    }

    @Test
    void ignoredPixelsGetNoGradientAndAllIgnoredGivesZero() {
        Random rnd = new Random(304);
        Tensor s = Tensor.gaussian(Shape.of(1, 3, 4, 4), 1, rnd);
        Tensor t = Tensor.gaussian(Shape.of(1, 3, 4, 4), 1, rnd);
        Tensor lab = labels(rnd, 3, 1, 4, 4);
        float[] d = OpRun.run(new DistillKlBackward(DistillKl.Kind.PIXEL, 1f, IGNORE), s, t, lab, Tensor.of(Shape.of(1), 1f)).output(0).data();
        for (int p = 0; p < 16; p++) {
            for (int k = 0; k < 3; k++) {
                if (lab.data()[p] == IGNORE) {
                    assertEquals(0f, d[k * 16 + p], "ignored pixel " + p);
                }
            }
        }
        int[] all = new int[16];
        java.util.Arrays.fill(all, IGNORE);
        Tensor ignored = Tensor.labels(Shape.of(1, 4, 4), all);
        assertEquals(0f, OpRun.run(new DistillKl(DistillKl.Kind.PIXEL, 1f, IGNORE), s, t, ignored).output(0).data()[0]);
    }

    @Test
    void badInputsNameTheProblem() {
        DistillKl pixel = new DistillKl(DistillKl.Kind.PIXEL, 1f, IGNORE);
        OpException shape = assertThrows(OpException.class,
                () -> pixel.infer(List.of(TensorSpec.f32(1, 4, 8, 8), TensorSpec.f32(1, 5, 8, 8), TensorSpec.i32(1, 8, 8))));
        assertTrue(shape.getMessage().contains("teacher logits"), shape.getMessage());
        OpException count = assertThrows(OpException.class,
                () -> pixel.infer(List.of(TensorSpec.f32(1, 4, 8, 8), TensorSpec.f32(1, 4, 8, 8))));
        assertTrue(count.getMessage().contains("labels"), count.getMessage());
        assertThrows(OpException.class, () -> pixel.infer(List.of(TensorSpec.f32(1, 4, 8, 8), TensorSpec.f32(1, 4, 8, 8),
                TensorSpec.i32(1, 4, 4))));
        assertThrows(IllegalArgumentException.class, () -> new DistillKl(DistillKl.Kind.CHANNEL, 0f, IGNORE));
        assertThrows(IllegalArgumentException.class, () -> new DistillKlBackward(DistillKl.Kind.CHANNEL, Float.NaN, IGNORE));
        int[] bad = new int[16];
        bad[3] = 9;
        Random rnd = new Random(305);
        RuntimeException label = assertThrows(RuntimeException.class, () -> OpRun.run(pixel, Tensor.gaussian(Shape.of(1, 4, 4, 4), 1, rnd),
                Tensor.gaussian(Shape.of(1, 4, 4, 4), 1, rnd), Tensor.labels(Shape.of(1, 4, 4), bad)));
        String message = label.getMessage() + (label.getCause() == null ? "" : label.getCause().getMessage());
        assertTrue(message.contains("label 9"), message);
    }
}
