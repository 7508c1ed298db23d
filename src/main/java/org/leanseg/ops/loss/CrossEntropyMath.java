package org.leanseg.ops.loss;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Shared shape checks and per-pixel arithmetic of {@link SoftmaxCrossEntropy} and its backward.
 * Logits are [N, K, H, W]: class k of pixel (n, h, w) sits at {@code (n*K + k)*H*W + h*W + w}.
 * Labels are [N, H, W], stored as exact float values on the reference backend.
 */
final class CrossEntropyMath {
    private CrossEntropyMath() {
    }

    /** Checks (logits f32 [N,K,H,W], labels i32 [N,H,W]) and the class-weight count. */
    static void checkInputs(List<TensorSpec> in, float[] classWeights) {
        TensorSpec logits = in.get(0);
        TensorSpec labels = in.get(1);
        Shape z = logits.shape();
        OpException.check(logits.dtype().isFloating() && z.rank() == 4, "logits must be a float [N, K, H, W], got " + logits);
        OpException.check(z.dim(1) >= 1, "logits need at least one class, got " + z);
        OpException.check(labels.dtype() == DType.I32, "labels must be i32, got " + labels);
        Shape expected = Shape.of(z.dim(0), z.dim(2), z.dim(3));
        OpException.check(labels.shape().equals(expected),
                "labels " + labels.shape() + " must be [N, H, W] = " + expected + " to match logits " + z);
        OpException.check(classWeights == null || classWeights.length == z.dim(1),
                "has " + (classWeights == null ? 0 : classWeights.length) + " class weights for " + z.dim(1) + " classes (logits " + z + ")");
    }

    /**
     * Checks every label is a class index or the ignore index, and returns the sum of the
     * weights of the non-ignored pixels (their count without class weights), in pixel order.
     */
    static double validateAndWeigh(RefView labels, int classes, int ignoreIndex, float[] classWeights) {
        Shape s = labels.shape();
        double total = 0;
        for (int p = 0; p < labels.size(); p++) {
            float v = labels.get(p);
            int y = (int) v;
            if (y == ignoreIndex && v == y) {
                continue;
            }
            if (v != y || y < 0 || y >= classes) {
                int w = p % s.dim(2);
                int h = (p / s.dim(2)) % s.dim(1);
                int n = p / (s.dim(2) * s.dim(1));
                throw new OpException("label " + (v == y ? Integer.toString(y) : Float.toString(v)) + " at [n, h, w] = ["
                        + n + ", " + h + ", " + w + "] is not a class in [0, " + classes + ") nor the ignore index " + ignoreIndex);
            }
            total += classWeights == null ? 1.0 : classWeights[y];
        }
        return total;
    }

    /**
     * {@code e[k] = exp(z_k - max_k z_k)} of one pixel in double; returns their sum (at least 1,
     * so softmax is {@code e[k] / sum}).
     */
    static double shiftedExps(float[] z, int base, int stride, int classes, double[] e) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < classes; k++) {
            max = Math.max(max, z[base + k * stride]);
        }
        double sum = 0;
        for (int k = 0; k < classes; k++) {
            e[k] = Math.exp(z[base + k * stride] - max);
            sum += e[k];
        }
        return sum;
    }

    /** log(sum_k exp(z_k)) of one pixel, stable (max subtracted), in double. */
    static double logSumExp(float[] z, int base, int stride, int classes) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < classes; k++) {
            max = Math.max(max, z[base + k * stride]);
        }
        double sum = 0;
        for (int k = 0; k < classes; k++) {
            sum += Math.exp(z[base + k * stride] - max);
        }
        return max + Math.log(sum);
    }
}
