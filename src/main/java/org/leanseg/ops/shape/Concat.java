package org.leanseg.ops.shape;

import java.util.ArrayList;
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
 * Channel concatenation ({@code torch.cat(xs, dim=1)}) of two or more [N, C_k, H, W] tensors with
 * equal N, H, W and dtype, in input order (ASPP's five branches, the decoder's [low, aspp]).
 * The backward gives each input its channel range of dY through {@link ChannelSlice}.
 *
 * <pre>{@code
 * Value y = g.apply1(new Concat(), lowProj, asppUp); // [N, L + C, H, W]
 * }</pre>
 */
public record Concat() implements Op {
    /** Cheap to recompute in backward (graph/passes/RecomputeCheapOps). */
    @Override
    public Replay cheapToReplay() {
        return Replay.CHEAP;
    }

    @Override
    public String name() {
        return "concat";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() >= 2, "needs at least two inputs, got " + in.size());
        Shape first = ShapeChecks.nchw(in.get(0), "input 0");
        int channels = 0;
        for (int k = 0; k < in.size(); k++) {
            Shape s = ShapeChecks.nchw(in.get(k), "input " + k);
            OpException.check(s.dim(0) == first.dim(0) && s.dim(2) == first.dim(2) && s.dim(3) == first.dim(3),
                    "input " + k + " " + s + " differs from input 0 " + first + " outside the channel dimension");
            OpException.check(in.get(k).dtype() == in.get(0).dtype(),
                    "input " + k + " has dtype " + in.get(k).dtype() + ", input 0 " + in.get(0).dtype());
            channels += s.dim(1);
        }
        return List.of(new TensorSpec(first.withDim(1, channels), in.get(0).dtype()));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        List<Value> grads = new ArrayList<>();
        int start = 0;
        for (Value x : node.inputs()) {
            int count = x.spec().shape().dim(1);
            grads.add(g.apply1(new ChannelSlice(start, count), gradOut.get(0)));
            start += count;
        }
        return grads;
    }

    /** Reference kernel: one task per output (n, c) plane, copied from the input that owns it. */
    public static void reference(Concat op, RefView[] in, RefView[] out) {
        RefView y = out[0];
        Shape s = y.shape();
        int total = s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        int[] first = new int[in.length + 1];
        for (int k = 0; k < in.length; k++) {
            first[k + 1] = first[k] + in[k].shape().dim(1);
        }
        Parallel.range(s.dim(0) * total, ShapeChecks.grain(hw), (lo, hi) -> {
            int k = 0;
            for (int p = lo; p < hi; p++) {
                int n = p / total;
                int c = p % total;
                while (c < first[k] || c >= first[k + 1]) {
                    k = c < first[k] ? 0 : k + 1;
                }
                int ck = first[k + 1] - first[k];
                RefView x = in[k];
                System.arraycopy(x.data(), x.offset() + (n * ck + c - first[k]) * hw, y.data(), y.offset() + p * hw, hw);
            }
        });
    }
}
