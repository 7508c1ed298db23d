package org.leanseg.ops.loss;

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
 * {@link Resize} to [outH, outW] followed by {@link Argmax}, row by row (issue 11, Note [Fused
 * upsample loss]): stride-4 logits f32 [N, K, h, w] → classes i32 [N, outH, outW], never holding
 * the full-resolution logits. Each row's logits are interpolated exactly as Resize computes them
 * (the same float per class), and the first maximum wins as in Argmax, so the mask equals the
 * unfused one pixel for pixel, ties included. Used by the eval-mode argmax graphs
 * ({@code eval.InferenceGraphs}) where the device runs it.
 *
 * <pre>{@code
 * Value classes = g.apply1(UpsampleArgmax.of(Resize.to(512, 512)), logits4); // i32 [N, 512, 512]
 * }</pre>
 * Reference check: {@code mvn -B -q test -Dtest=UpsampleSoftmaxCrossEntropyTest}.
 */
public record UpsampleArgmax(int outH, int outW, boolean alignCorners) implements Op {
    public UpsampleArgmax {
        if (outH < 1 || outW < 1) {
            throw new IllegalArgumentException("upsample_argmax needs a positive output size, got " + outH + "x" + outW);
        }
    }

    public static UpsampleArgmax of(Resize resize) {
        return new UpsampleArgmax(resize.outH(), resize.outW(), resize.alignCorners());
    }

    @Override
    public String name() {
        return "upsample_argmax";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input (logits), got " + in.size());
        Shape s = in.get(0).shape();
        OpException.check(in.get(0).dtype().isFloating() && s.rank() == 4, "logits must be a float [N, K, h, w], got " + in.get(0));
        OpException.check(s.dim(1) >= 1 && s.dim(2) > 0 && s.dim(3) > 0, "logits need a class and a non-empty plane, got " + s);
        return List.of(TensorSpec.i32(s.dim(0), outH, outW));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        throw new OpException("upsample_argmax is not differentiable; its i32 output must not reach a loss");
    }

    @Override
    public long flops(List<TensorSpec> in) {
        Shape s = in.get(0).shape();
        return 8L * s.dim(0) * s.dim(1) * outH * outW; // Resize's 7 per output + Argmax's 1
    }

    /** Reference kernel: one task per (n, output row), through a K × outW row buffer. */
    public static void reference(UpsampleArgmax op, RefView[] in, RefView[] out) {
        RefView z = in[0];
        RefView y = out[0];
        Shape s = z.shape();
        int classes = s.dim(1);
        BilinearAxis rows = BilinearAxis.of(s.dim(2), op.outH, op.alignCorners);
        BilinearAxis cols = BilinearAxis.of(s.dim(3), op.outW, op.alignCorners);
        Parallel.range(s.dim(0) * op.outH, Math.max(1, (1 << 12) / Math.max(1, op.outW * classes)), (lo, hi) -> {
            float[] row = new float[classes * op.outW];
            for (int r = lo; r < hi; r++) {
                UpsampleSoftmaxCrossEntropy.interpolateRow(z, r / op.outH, r % op.outH, rows, cols, row);
                for (int j = 0; j < op.outW; j++) {
                    int best = 0;
                    float bestValue = row[j];
                    for (int k = 1; k < classes; k++) {
                        float v = row[k * op.outW + j];
                        if (v > bestValue || (Float.isNaN(bestValue) && !Float.isNaN(v))) {
                            best = k;
                            bestValue = v;
                        }
                    }
                    y.set(r * op.outW + j, best);
                }
            }
        });
    }
}
