package org.leanseg.ops.shape;

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
 * Global average pooling ({@code x.mean((2, 3), keepdim=True)}, ASPP's image pooling):
 * [N, C, H, W] → [N, C, 1, 1], summed in double. Backward: {@link GlobalAvgPoolBackward}.
 *
 * <pre>{@code
 * Value pooled = g.apply1(new GlobalAvgPool(), features); // [N, C, 1, 1]
 * }</pre>
 */
public record GlobalAvgPool() implements Op {
    @Override
    public String name() {
        return "global_avg_pool";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input, got " + in.size());
        Shape s = ShapeChecks.nchw(in.get(0), "input");
        OpException.check(in.get(0).dtype().isFloating(), "input must be a float tensor, got " + in.get(0));
        OpException.check(s.dim(2) > 0 && s.dim(3) > 0, "input has an empty plane: " + s);
        return List.of(new TensorSpec(Shape.of(s.dim(0), s.dim(1), 1, 1), in.get(0).dtype()));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Shape s = node.input(0).spec().shape();
        return List.of(g.apply1(new GlobalAvgPoolBackward(s.dim(2), s.dim(3)), gradOut.get(0)));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return in.get(0).shape().numel();
    }

    /** Reference kernel: one task per (n, c) plane. */
    public static void reference(GlobalAvgPool op, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView y = out[0];
        Shape s = x.shape();
        int hw = s.dim(2) * s.dim(3);
        Parallel.range(s.dim(0) * s.dim(1), ShapeChecks.grain(hw), (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                double sum = 0;
                int base = p * hw;
                for (int i = 0; i < hw; i++) {
                    sum += x.get(base + i);
                }
                y.set(p, (float) (sum / hw));
            }
        });
    }
}
