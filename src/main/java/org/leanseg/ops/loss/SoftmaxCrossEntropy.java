package org.leanseg.ops.loss;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Per-pixel softmax cross-entropy, PyTorch's {@code F.cross_entropy(logits, labels,
 * weight=classWeights, ignore_index=ignoreIndex)} with mean reduction (MODEL_SPEC.md "Loss"):
 * inputs (logits f32 [N, K, H, W], labels i32 [N, H, W]) → loss f32 [1] =
 * {@code sum_p w[y_p]*nll_p / sum_p w[y_p]} over pixels whose label is not {@code ignoreIndex}
 * ({@code w = 1} without class weights, the plain mean). Where PyTorch gives NaN (no valid pixel,
 * or weights summing to 0) the loss is 0 and the gradient 0. A label outside [0, K) that is not
 * the ignore index fails the run with a message naming the value and its pixel.
 *
 * <pre>{@code
 * Value loss = g.apply1(SoftmaxCrossEntropy.of(255), logits, labels); // f32 [1]
 * }</pre>
 * Reference check: {@code mvn -Dtest=SoftmaxCrossEntropyTest test}.
 *
 * @param classWeights per-class weights (length K, each >= 0), or null for none; copied
 */
public record SoftmaxCrossEntropy(int ignoreIndex, float[] classWeights) implements Op {
    public SoftmaxCrossEntropy {
        classWeights = checkWeights(classWeights);
    }

    /** Unweighted loss ignoring label {@code ignoreIndex} (255 for VOC-style masks). */
    public static SoftmaxCrossEntropy of(int ignoreIndex) {
        return new SoftmaxCrossEntropy(ignoreIndex, null);
    }

    static float[] checkWeights(float[] w) {
        if (w == null) {
            return null;
        }
        for (float v : w) {
            if (!(v >= 0) || Float.isInfinite(v)) {
                throw new IllegalArgumentException("softmax_cross_entropy class weights must be finite and >= 0, got " + Arrays.toString(w));
            }
        }
        return w.clone();
    }

    /** A copy of the class weights, or null. */
    @Override
    public float[] classWeights() {
        return classWeights == null ? null : classWeights.clone();
    }

    @Override
    public String name() {
        return "softmax_cross_entropy";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 2, "takes two inputs (logits, labels), got " + in.size());
        CrossEntropyMath.checkInputs(in, classWeights);
        return List.of(TensorSpec.f32(1));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dLogits = g.apply1(new SoftmaxCrossEntropyBackward(ignoreIndex, classWeights),
                node.input(0), node.input(1), gradOut.get(0));
        return Arrays.asList(dLogits, null);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 4 * in.get(0).shape().numel();
    }

    /**
     * Reference kernel: one task per (n, h) row of pixels writes that row's weighted NLL sum; the
     * rows are then added in order, so the result does not depend on the thread count.
     */
    public static void reference(SoftmaxCrossEntropy op, RefView[] in, RefView[] out) {
        RefView z = in[0];
        RefView labels = in[1];
        Shape s = z.shape();
        int classes = s.dim(1);
        int height = s.dim(2);
        int width = s.dim(3);
        int plane = height * width;
        double total = CrossEntropyMath.validateAndWeigh(labels, classes, op.ignoreIndex, op.classWeights);
        double[] rowSums = new double[s.dim(0) * height];
        Parallel.range(rowSums.length, Math.max(1, (1 << 12) / Math.max(1, width * classes)), (lo, hi) -> {
            for (int r = lo; r < hi; r++) {
                int n = r / height;
                int h = r % height;
                double sum = 0;
                for (int w = 0; w < width; w++) {
                    int y = (int) labels.get(r * width + w);
                    if (y == op.ignoreIndex) {
                        continue;
                    }
                    int base = z.offset() + n * classes * plane + h * width + w;
                    double nll = CrossEntropyMath.logSumExp(z.data(), base, plane, classes) - z.data()[base + y * plane];
                    sum += (op.classWeights == null ? 1.0 : op.classWeights[y]) * nll;
                }
                rowSums[r] = sum;
            }
        });
        double loss = 0;
        for (double v : rowSums) {
            loss += v;
        }
        out[0].set(0, total > 0 ? (float) (loss / total) : 0f);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SoftmaxCrossEntropy c && c.ignoreIndex == ignoreIndex && Arrays.equals(c.classWeights, classWeights);
    }

    @Override
    public int hashCode() {
        return 31 * ignoreIndex + Arrays.hashCode(classWeights);
    }

    @Override
    public String toString() {
        return "SoftmaxCrossEntropy[ignoreIndex=" + ignoreIndex + ", classWeights=" + Arrays.toString(classWeights) + "]";
    }
}
