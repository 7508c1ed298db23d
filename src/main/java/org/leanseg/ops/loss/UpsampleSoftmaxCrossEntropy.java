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
import org.leanseg.ops.shape.BilinearAxis;
import org.leanseg.ops.shape.Resize;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * {@link Resize} to [outH, outW] followed by {@link SoftmaxCrossEntropy}, in one op that never
 * stores the full-resolution logits (issue 11): inputs (logits f32 [N, K, h, w] on the stride-4
 * grid, labels i32 [N, outH, outW]) → loss f32 [1]. Each output row's logits are interpolated from
 * their bilinear taps ({@link BilinearAxis}, Resize's {@code align_corners} semantics, rounded to
 * float as Resize stores them) into a row buffer of K × outW floats, then log-softmax, NLL with the
 * ignore index and class weights, summed per row and the rows added in order, as
 * {@link SoftmaxCrossEntropy#reference} does: the loss equals the unfused pair's bit for bit.
 * Backward: {@link UpsampleSoftmaxCrossEntropyBackward}.
 *
 * <p>Note [Fused upsample loss]. DeepLabV3+'s logits leave the decoder at stride 4 and are
 * upsampled ×4 only for the loss; PyTorch, mmsegmentation and PaddleSeg materialise the
 * full-resolution logits (N·K·H·W floats, 168 MiB at b8 512² with 21 classes) and their gradient
 * (as much again). Here neither exists: the forward reads the stride-4 logits, the backward
 * recomputes each row's logits and scatters each pixel's gradient straight onto the stride-4 grid.
 * {@code graph/passes/FuseUpsampleCrossEntropy} rewrites resize → CE into this op.
 *
 * <pre>{@code
 * Value loss = g.apply1(new UpsampleSoftmaxCrossEntropy(512, 512, false, 255, null), logits4, labels); // f32 [1]
 * }</pre>
 * Reference check: {@code mvn -B -q test -Dtest=UpsampleSoftmaxCrossEntropyTest}.
 *
 * @param classWeights per-class weights (length K, each >= 0), or null for none; copied
 */
public record UpsampleSoftmaxCrossEntropy(int outH, int outW, boolean alignCorners, int ignoreIndex, float[] classWeights)
        implements Op {
    public UpsampleSoftmaxCrossEntropy {
        if (outH < 1 || outW < 1) {
            throw new IllegalArgumentException("upsample_softmax_cross_entropy needs a positive output size, got " + outH + "x" + outW);
        }
        classWeights = SoftmaxCrossEntropy.checkWeights(classWeights);
    }

    /** The fused form of {@code resize} then {@code ce}. */
    public static UpsampleSoftmaxCrossEntropy of(Resize resize, SoftmaxCrossEntropy ce) {
        return new UpsampleSoftmaxCrossEntropy(resize.outH(), resize.outW(), resize.alignCorners(), ce.ignoreIndex(), ce.classWeights());
    }

    /** A copy of the class weights, or null. */
    @Override
    public float[] classWeights() {
        return classWeights == null ? null : classWeights.clone();
    }

    @Override
    public String name() {
        return "upsample_softmax_cross_entropy";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 2, "takes two inputs (logits, labels), got " + in.size());
        checkInputs(in, outH, outW, classWeights);
        return List.of(TensorSpec.f32(1));
    }

    /** Checks (logits f32 [N,K,h,w], labels i32 [N,outH,outW], ...) as the unfused CE checks its full-resolution logits. */
    static void checkInputs(List<TensorSpec> in, int outH, int outW, float[] classWeights) {
        TensorSpec logits = in.get(0);
        Shape z = logits.shape();
        OpException.check(logits.dtype().isFloating() && z.rank() == 4, "logits must be a float [N, K, h, w], got " + logits);
        OpException.check(z.dim(2) > 0 && z.dim(3) > 0, "logits have an empty plane: " + z);
        CrossEntropyMath.checkInputs(List.of(TensorSpec.f32(z.dim(0), z.dim(1), outH, outW), in.get(1)), classWeights);
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dLogits = g.apply1(new UpsampleSoftmaxCrossEntropyBackward(outH, outW, alignCorners, ignoreIndex, classWeights),
                node.input(0), node.input(1), gradOut.get(0));
        return Arrays.asList(dLogits, null);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        Shape s = in.get(0).shape();
        return (7L + 4L) * s.dim(0) * s.dim(1) * outH * outW; // Resize's 7 per output + CE's 4
    }

    /** One full-resolution row of logits: {@code row[k * outW + j]} for output row {@code i} of image {@code n}, as Resize computes it. */
    static void interpolateRow(RefView z, int n, int i, BilinearAxis rows, BilinearAxis cols, float[] row) {
        Shape s = z.shape();
        int classes = s.dim(1);
        int inH = s.dim(2);
        int inW = s.dim(3);
        int outW = cols.i0().length;
        float[] zd = z.data();
        double h0 = rows.w0()[i];
        double h1 = rows.w1()[i];
        for (int k = 0; k < classes; k++) {
            int p = n * classes + k;
            int r0 = z.offset() + (p * inH + rows.i0()[i]) * inW;
            int r1 = z.offset() + (p * inH + rows.i1()[i]) * inW;
            for (int j = 0; j < outW; j++) {
                int c0 = cols.i0()[j];
                int c1 = cols.i1()[j];
                double top = cols.w0()[j] * zd[r0 + c0] + cols.w1()[j] * zd[r0 + c1];
                double bottom = cols.w0()[j] * zd[r1 + c0] + cols.w1()[j] * zd[r1 + c1];
                row[k * outW + j] = (float) (h0 * top + h1 * bottom);
            }
        }
    }

    /** Reference kernel: one task per (n, output row); the row sums are added in order (thread-count independent). */
    public static void reference(UpsampleSoftmaxCrossEntropy op, RefView[] in, RefView[] out) {
        RefView z = in[0];
        RefView labels = in[1];
        Shape s = z.shape();
        int classes = s.dim(1);
        BilinearAxis rows = BilinearAxis.of(s.dim(2), op.outH, op.alignCorners);
        BilinearAxis cols = BilinearAxis.of(s.dim(3), op.outW, op.alignCorners);
        double total = CrossEntropyMath.validateAndWeigh(labels, classes, op.ignoreIndex, op.classWeights);
        double[] rowSums = new double[s.dim(0) * op.outH];
        Parallel.range(rowSums.length, Math.max(1, (1 << 12) / Math.max(1, op.outW * classes)), (lo, hi) -> {
            float[] row = new float[classes * op.outW];
            for (int r = lo; r < hi; r++) {
                interpolateRow(z, r / op.outH, r % op.outH, rows, cols, row);
                double sum = 0;
                for (int j = 0; j < op.outW; j++) {
                    int y = (int) labels.get(r * op.outW + j);
                    if (y == op.ignoreIndex) {
                        continue;
                    }
                    double nll = CrossEntropyMath.logSumExp(row, j, op.outW, classes) - row[j + y * op.outW];
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
        return o instanceof UpsampleSoftmaxCrossEntropy c && c.outH == outH && c.outW == outW && c.alignCorners == alignCorners
                && c.ignoreIndex == ignoreIndex && Arrays.equals(c.classWeights, classWeights);
    }

    @Override
    public int hashCode() {
        return ((31 * outH + outW) * 31 + ignoreIndex) * 31 + Arrays.hashCode(classWeights) + (alignCorners ? 1 : 0);
    }

    @Override
    public String toString() {
        return "UpsampleSoftmaxCrossEntropy[" + outH + "x" + outW + ", alignCorners=" + alignCorners + ", ignoreIndex=" + ignoreIndex
                + ", classWeights=" + Arrays.toString(classWeights) + "]";
    }
}
