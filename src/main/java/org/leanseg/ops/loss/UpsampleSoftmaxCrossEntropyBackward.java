package org.leanseg.ops.loss;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.ops.shape.BilinearAxis;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Backward of {@link UpsampleSoftmaxCrossEntropy} (Note [Fused upsample loss]): inputs (stride-4
 * logits [N, K, h, w], labels [N, outH, outW], dLoss f32 [1]) → dLogits [N, K, h, w]. Each output
 * row's logits are interpolated again; each valid pixel's gradient {@code dLoss·w[y]/W·(softmax −
 * onehot)} (rounded to float, as {@link SoftmaxCrossEntropyBackward} stores it) is scattered onto
 * its four taps in row-major pixel order into a double accumulator per image, as
 * {@code ResizeBackward} accumulates each plane: deterministic, and equal to the unfused pair's
 * gradient. The full-resolution gradient is never stored. Has no backward of its own.
 */
public record UpsampleSoftmaxCrossEntropyBackward(int outH, int outW, boolean alignCorners, int ignoreIndex, float[] classWeights)
        implements Op {
    public UpsampleSoftmaxCrossEntropyBackward {
        classWeights = SoftmaxCrossEntropy.checkWeights(classWeights);
    }

    /** A copy of the class weights, or null. */
    @Override
    public float[] classWeights() {
        return classWeights == null ? null : classWeights.clone();
    }

    @Override
    public String name() {
        return "upsample_softmax_cross_entropy_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 3, "takes three inputs (logits, labels, dLoss), got " + in.size());
        UpsampleSoftmaxCrossEntropy.checkInputs(in, outH, outW, classWeights);
        OpException.check(in.get(2).equals(TensorSpec.f32(1)), "dLoss must be f32 [1], got " + in.get(2));
        return List.of(in.get(0));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        Shape s = in.get(0).shape();
        return (7L + 5L + 8L) * s.dim(0) * s.dim(1) * outH * outW; // interpolate, softmax gradient, scatter
    }

    /** Reference kernel: one task per image (its K stride-4 planes accumulate in pixel order). */
    public static void reference(UpsampleSoftmaxCrossEntropyBackward op, RefView[] in, RefView[] out) {
        RefView z = in[0];
        RefView labels = in[1];
        RefView dz = out[0];
        Shape s = z.shape();
        int classes = s.dim(1);
        int inW = s.dim(3);
        int inPlane = s.dim(2) * inW;
        BilinearAxis rows = BilinearAxis.of(s.dim(2), op.outH, op.alignCorners);
        BilinearAxis cols = BilinearAxis.of(inW, op.outW, op.alignCorners);
        double total = CrossEntropyMath.validateAndWeigh(labels, classes, op.ignoreIndex, op.classWeights);
        double scale = total > 0 ? in[2].get(0) / total : 0.0;
        Parallel.range(s.dim(0), 1, (lo, hi) -> {
            double[] acc = new double[classes * inPlane];
            float[] row = new float[classes * op.outW];
            double[] e = new double[classes];
            for (int n = lo; n < hi; n++) {
                Arrays.fill(acc, 0);
                for (int i = 0; scale != 0 && i < op.outH; i++) {
                    UpsampleSoftmaxCrossEntropy.interpolateRow(z, n, i, rows, cols, row);
                    int r0 = rows.i0()[i] * inW;
                    int r1 = rows.i1()[i] * inW;
                    double h0 = rows.w0()[i];
                    double h1 = rows.w1()[i];
                    for (int j = 0; j < op.outW; j++) {
                        int y = (int) labels.get((n * op.outH + i) * op.outW + j);
                        if (y == op.ignoreIndex) {
                            continue; // a zero gradient: adds nothing to any tap
                        }
                        double inv = 1.0 / CrossEntropyMath.shiftedExps(row, j, op.outW, classes, e);
                        double g = scale * (op.classWeights == null ? 1.0 : op.classWeights[y]);
                        int c0 = cols.i0()[j];
                        int c1 = cols.i1()[j];
                        for (int k = 0; k < classes; k++) {
                            double gk = (float) (g * (e[k] * inv - (k == y ? 1 : 0)));
                            double v0 = cols.w0()[j] * gk;
                            double v1 = cols.w1()[j] * gk;
                            int a = k * inPlane;
                            acc[a + r0 + c0] += h0 * v0;
                            acc[a + r0 + c1] += h0 * v1;
                            acc[a + r1 + c0] += h1 * v0;
                            acc[a + r1 + c1] += h1 * v1;
                        }
                    }
                }
                int xb = n * classes * inPlane;
                for (int q = 0; q < classes * inPlane; q++) {
                    dz.set(xb + q, (float) acc[q]);
                }
            }
        });
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UpsampleSoftmaxCrossEntropyBackward c && c.outH == outH && c.outW == outW && c.alignCorners == alignCorners
                && c.ignoreIndex == ignoreIndex && Arrays.equals(c.classWeights, classWeights);
    }

    @Override
    public int hashCode() {
        return ((31 * outH + outW) * 31 + ignoreIndex) * 31 + Arrays.hashCode(classWeights) + (alignCorners ? 1 : 0);
    }

    @Override
    public String toString() {
        return "UpsampleSoftmaxCrossEntropyBackward[" + outH + "x" + outW + ", alignCorners=" + alignCorners + ", ignoreIndex="
                + ignoreIndex + ", classWeights=" + Arrays.toString(classWeights) + "]";
    }
}
