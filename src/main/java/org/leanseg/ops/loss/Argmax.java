package org.leanseg.ops.loss;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Per-pixel class prediction {@code logits.argmax(dim=1)}: f32 [N, K, H, W] → i32 [N, H, W]; the
 * first maximum wins on ties (as PyTorch). A NaN logit never wins (comparisons with NaN are
 * false; PyTorch would return the NaN's index). Not differentiable: it only feeds metrics and
 * predictions, never a loss.
 *
 * <pre>{@code
 * Value classes = g.apply1(new Argmax(), logits); // i32 [N, H, W]
 * }</pre>
 */
public record Argmax() implements Op {
    @Override
    public String name() {
        return "argmax";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input (logits), got " + in.size());
        Shape s = in.get(0).shape();
        OpException.check(in.get(0).dtype().isFloating() && s.rank() == 4, "logits must be a float [N, K, H, W], got " + in.get(0));
        OpException.check(s.dim(1) >= 1, "logits need at least one class, got " + s);
        return List.of(TensorSpec.i32(s.dim(0), s.dim(2), s.dim(3)));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        throw new OpException("argmax is not differentiable; its i32 output must not reach a loss");
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return in.get(0).shape().numel();
    }

    /** Reference kernel: one task per (n, h) row of pixels. */
    public static void reference(Argmax op, RefView[] in, RefView[] out) {
        RefView z = in[0];
        RefView y = out[0];
        Shape s = z.shape();
        int classes = s.dim(1);
        int height = s.dim(2);
        int width = s.dim(3);
        int plane = height * width;
        Parallel.range(s.dim(0) * height, Math.max(1, (1 << 14) / Math.max(1, width * classes)), (lo, hi) -> {
            float[] zd = z.data();
            for (int r = lo; r < hi; r++) {
                int n = r / height;
                int h = r % height;
                for (int w = 0; w < width; w++) {
                    int base = z.offset() + n * classes * plane + h * width + w;
                    int best = 0;
                    float bestValue = zd[base];
                    for (int k = 1; k < classes; k++) {
                        float v = zd[base + k * plane];
                        if (v > bestValue || (Float.isNaN(bestValue) && !Float.isNaN(v))) {
                            best = k;
                            bestValue = v;
                        }
                    }
                    y.set(r * width + w, best);
                }
            }
        });
    }
}
