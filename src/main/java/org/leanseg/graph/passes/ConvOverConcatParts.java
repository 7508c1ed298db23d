package org.leanseg.graph.passes;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.conv.Conv2d;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.shape.ChannelSlice;
import org.leanseg.ops.shape.Concat;

/**
 * Note [Convolution over a concat by parts] (forward rewrite, before autograd): a dense convolution
 * ({@code groups == 1}) that is the only reader of a channel concat becomes one convolution per part
 * with that part's input channels of the weight ({@link ChannelSlice} of the weight, dim 1), summed:
 * {@code conv(concat(a, b), W) = conv(a, W[:, :Ca]) + conv(b, W[:, Ca:])} (bias, if any, on the
 * first part computed; the part made last goes first, so that it dies at its own convolution). The concat never exists, forward or backward: DeepLabV3+'s decoder concat (304 channels at
 * stride 4: 152 MiB at MobileNetV2 b8 512²) was recomputed for the first fuse convolution's filter
 * gradient, beside the upsampled ASPP output it copies; by parts each part's filter gradient reads the
 * part itself, and the concat's data gradient (another 152 MiB) becomes the parts' own. The ASPP's
 * five-branch concat goes the same way. The weight's gradient is the parts' gradients put back in
 * place (zero elsewhere, so their sum is exact). The sums are accumulated part after part, so the
 * result equals the plain convolution to float rounding only (the GEMM adds the same products in
 * another order). Checked by {@code ConvOverConcatPartsTest}.
 *
 * <pre>{@code
 * Rebuild.Result r = ConvOverConcatParts.apply(forwardGraph);
 * }</pre>
 */
public final class ConvOverConcatParts {
    private ConvOverConcatParts() {
    }

    public static Rebuild.Result apply(Graph g) {
        Set<Node> split = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : g.nodes()) {
            if (splittable(g, n)) {
                split.add(n);
            }
        }
        Map<Node, Integer> position = new IdentityHashMap<>();
        for (Node n : g.nodes()) {
            position.put(n, position.size());
        }
        Map<Value, List<Value>> parts = new IdentityHashMap<>(); // dropped concat output (old) -> its inputs (new)
        Map<Value, List<Integer>> order = new IdentityHashMap<>(); // -> the parts' indices, latest made first
        return Rebuild.run(g, (out, n, in) -> {
            if (split.contains(n)) {
                parts.put(n.output(0), List.copyOf(in));
                order.put(n.output(0), latestFirst(n, position));
                return Rebuild.DROP;
            }
            if (!(n.op() instanceof Conv2d conv) || !parts.containsKey(n.input(0))) {
                return null;
            }
            List<Value> inputs = parts.get(n.input(0));
            int[] start = new int[inputs.size()];
            for (int i = 1; i < inputs.size(); i++) {
                start[i] = start[i - 1] + inputs.get(i - 1).spec().shape().dim(1);
            }
            Value sum = null;
            for (int i : order.get(n.input(0))) {
                Value part = inputs.get(i);
                Value w = out.apply1(new ChannelSlice(start[i], part.spec().shape().dim(1)), in.get(1));
                Value y = sum == null && in.size() == 3 ? out.apply1(conv, part, w, in.get(2)) : out.apply1(conv, part, w);
                sum = sum == null ? y : out.apply1(new Add(), sum, y);
            }
            return List.of(sum);
        });
    }

    /**
     * The concat's part indices, the part made last first: that part is often made for the concat
     * alone (the decoder's upsampled ASPP output, 128 MiB at MobileNetV2 b8 512²), so its
     * convolution runs while it is fresh and it dies there, instead of living beside the other
     * parts' outputs (Note [Convolution over a concat by parts]). Inputs without a producer
     * (graph inputs) count as made first.
     */
    private static List<Integer> latestFirst(Node concat, Map<Node, Integer> position) {
        List<Integer> idx = new java.util.ArrayList<>();
        for (int i = 0; i < concat.inputs().size(); i++) {
            idx.add(i);
        }
        idx.sort((a, b) -> Integer.compare(made(concat.input(b), position), made(concat.input(a), position)));
        return idx;
    }

    private static int made(Value v, Map<Node, Integer> position) {
        return v.producer() == null ? -1 : position.get(v.producer());
    }

    /** A concat read only by one dense convolution, as its input, and not a graph output. */
    private static boolean splittable(Graph g, Node n) {
        if (!(n.op() instanceof Concat) || g.outputs().contains(n.output(0))) {
            return false;
        }
        List<Node> users = n.output(0).users();
        if (users.size() != 1) {
            return false;
        }
        Node u = users.get(0);
        return u.op() instanceof Conv2d c && c.groups() == 1 && u.input(0) == n.output(0) && !u.inputs().subList(1, u.inputs().size())
                .contains(n.output(0));
    }
}
