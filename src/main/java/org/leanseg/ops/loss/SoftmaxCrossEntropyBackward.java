package org.leanseg.ops.loss;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Backward of {@link SoftmaxCrossEntropy}: inputs (logits, labels, dLoss f32 [1]) → dLogits
 * [N, K, H, W] = {@code dLoss * w[y]/W * (softmax(z) - onehot(y))} per valid pixel, 0 for ignored
 * pixels, with {@code W = sum of w[y]} over valid pixels (0 everywhere when W = 0). The softmax is
 * recomputed from the logits, so the forward stores nothing. Has no backward of its own.
 */
public record SoftmaxCrossEntropyBackward(int ignoreIndex, float[] classWeights) implements Op {
    public SoftmaxCrossEntropyBackward {
        classWeights = SoftmaxCrossEntropy.checkWeights(classWeights);
    }

    /** A copy of the class weights, or null. */
    @Override
    public float[] classWeights() {
        return classWeights == null ? null : classWeights.clone();
    }

    @Override
    public String name() {
        return "softmax_cross_entropy_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 3, "takes three inputs (logits, labels, dLoss), got " + in.size());
        CrossEntropyMath.checkInputs(in, classWeights);
        OpException.check(in.get(2).equals(TensorSpec.f32(1)), "dLoss must be f32 [1], got " + in.get(2));
        return List.of(in.get(0));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 5 * in.get(0).shape().numel();
    }

    /** Reference kernel: one task per (n, h) row of pixels. */
    public static void reference(SoftmaxCrossEntropyBackward op, RefView[] in, RefView[] out) {
        RefView z = in[0];
        RefView labels = in[1];
        RefView dz = out[0];
        Shape s = z.shape();
        int classes = s.dim(1);
        int height = s.dim(2);
        int width = s.dim(3);
        int plane = height * width;
        double total = CrossEntropyMath.validateAndWeigh(labels, classes, op.ignoreIndex, op.classWeights);
        double scale = total > 0 ? in[2].get(0) / total : 0.0;
        Parallel.range(s.dim(0) * height, Math.max(1, (1 << 12) / Math.max(1, width * classes)), (lo, hi) -> {
            float[] zd = z.data();
            double[] e = new double[classes];
            for (int r = lo; r < hi; r++) {
                int n = r / height;
                int h = r % height;
                for (int w = 0; w < width; w++) {
                    int y = (int) labels.get(r * width + w);
                    int base = n * classes * plane + h * width + w;
                    if (y == op.ignoreIndex || scale == 0) {
                        for (int k = 0; k < classes; k++) {
                            dz.set(base + k * plane, 0f);
                        }
                        continue;
                    }
                    // softmax as exp(z - max) / sum: one exp per class (exp(z - logSumExp) took two)
                    double inv = 1.0 / CrossEntropyMath.shiftedExps(zd, z.offset() + base, plane, classes, e);
                    double g = scale * (op.classWeights == null ? 1.0 : op.classWeights[y]);
                    for (int k = 0; k < classes; k++) {
                        dz.set(base + k * plane, (float) (g * (e[k] * inv - (k == y ? 1 : 0))));
                    }
                }
            }
        });
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SoftmaxCrossEntropyBackward c && c.ignoreIndex == ignoreIndex && Arrays.equals(c.classWeights, classWeights);
    }

    @Override
    public int hashCode() {
        return 31 * ignoreIndex + Arrays.hashCode(classWeights);
    }

    @Override
    public String toString() {
        return "SoftmaxCrossEntropyBackward[ignoreIndex=" + ignoreIndex + ", classWeights=" + Arrays.toString(classWeights) + "]";
    }
}
