package org.leanseg.ops.shape;

import java.util.ArrayList;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.elementwise.Fill;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Channels {@code [start, start + count)} of an [N, C, H, W] tensor ({@code x[:, start:start+count]}):
 * the backward of {@link Concat}, and the split of a weight over a concat's parts
 * ({@code graph/passes/ConvOverConcatParts}). Its backward puts dY back among zero channels: a
 * {@link Concat} of {@link Fill} zeros and dY, meant for small tensors such as weights (an
 * activation's gradient would be as large as the input).
 */
public record ChannelSlice(int start, int count) implements Op {
    public ChannelSlice {
        if (start < 0 || count < 1) {
            throw new IllegalArgumentException("channel_slice needs start >= 0 and count >= 1, got " + start + ", " + count);
        }
    }

    @Override
    public String name() {
        return "channel_slice";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input, got " + in.size());
        Shape s = ShapeChecks.nchw(in.get(0), "input");
        OpException.check(start + count <= s.dim(1),
                "channels [" + start + ", " + (start + count) + ") are outside input " + s);
        return List.of(new TensorSpec(s.withDim(1, count), in.get(0).dtype()));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dy = gradOut.get(0);
        Shape s = node.input(0).spec().shape();
        if (start == 0 && count == s.dim(1)) {
            return List.of(dy);
        }
        List<Value> parts = new ArrayList<>();
        if (start > 0) {
            parts.add(g.apply1(new Fill(new TensorSpec(s.withDim(1, start), dy.spec().dtype()), 0f)));
        }
        parts.add(dy);
        int after = s.dim(1) - start - count;
        if (after > 0) {
            parts.add(g.apply1(new Fill(new TensorSpec(s.withDim(1, after), dy.spec().dtype()), 0f)));
        }
        return List.of(g.apply1(new Concat(), parts.toArray(new Value[0])));
    }

    /** Reference kernel: one task per output (n, c) plane. */
    public static void reference(ChannelSlice op, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView y = out[0];
        Shape s = x.shape();
        int ch = s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        int count = op.count;
        Parallel.range(s.dim(0) * count, ShapeChecks.grain(hw), (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int n = p / count;
                int c = op.start + p % count;
                System.arraycopy(x.data(), x.offset() + (n * ch + c) * hw, y.data(), y.offset() + p * hw, hw);
            }
        });
    }
}
