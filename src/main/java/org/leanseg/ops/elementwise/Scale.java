package org.leanseg.ops.elementwise;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/** y = factor * x (loss weights, averaging accumulated gradients). */
public record Scale(float factor) implements Op {
    @Override
    public String name() {
        return "scale";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input");
        return List.of(in.get(0));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        return List.of(g.apply1(this, gradOut.get(0)));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return in.get(0).shape().numel();
    }

    public static void reference(Scale op, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView y = out[0];
        Parallel.range(x.size(), 1 << 14, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                y.data()[y.offset() + i] = op.factor * x.data()[x.offset() + i];
            }
        });
    }
}
