package org.leanseg.graph.passes;

import java.util.IdentityHashMap;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.ops.elementwise.ActivationBackward;

/**
 * Note [Activation mask from its input]: a ReLU or ReLU6 backward gates dY by where the
 * activation's output lies strictly inside (0, cap). Its input gives the same gate bit for bit
 * (x in (0, cap) exactly where min(max(x, 0), cap) is; -0, cap, NaN and the infinities gate 0
 * both ways, {@code Activation.Kind.gate}), as the fused ReLU·depthwise backward already reads its
 * pre-activation. Where backward keeps the input anyway (an in-place BN's output, read by that BN's
 * backward: Note [In-place BN backward]), the activation's backward reads the input instead of the
 * output, so the output is needed only by the next layer's weight gradient: cheap-op recomputation
 * then makes it just before that op and frees it right after (Note [Filter gradient first]),
 * instead of keeping it beside the layer's gradients. In DeepLabV3+'s decoder this is one
 * stride-4 tensor (128 MiB at 8x512²) less at each of its two fuse convolutions' backward.
 * Runs right after autograd, before the recompute choice. Check: {@code mvn -q test -Dtest=PassesTest}.
 *
 * <pre>{@code
 * Rebuild.Result r = ActivationMaskFromInput.apply(stepGraph);
 * }</pre>
 */
public final class ActivationMaskFromInput {
    private ActivationMaskFromInput() {
    }

    public static Rebuild.Result apply(Graph g) {
        Map<Value, Value> map = new IdentityHashMap<>();
        return Rebuild.run(g, map, (out, n, in) -> {
            Value x = forwardInputKept(n);
            return x == null ? null : out.apply(n.op(), x.variable() != null ? out.variable(x.variable()) : map.get(x), in.get(1));
        });
    }

    /** The activation's input when {@code n} is an activation backward that may read it instead of the output, else null. */
    static Value forwardInputKept(Node n) {
        if (!(n.op() instanceof ActivationBackward b)) {
            return null;
        }
        Value y = n.input(0);
        Node act = y.producer();
        if (act == null || act.phase() != Phase.FORWARD || !(act.op() instanceof Activation a) || a.kind() != b.kind()) {
            return null;
        }
        Value x = act.input(0);
        for (Node reader : x.users()) {
            if (reader != act && reader.phase().backwardSide()) {
                return x; // backward keeps x anyway
            }
        }
        return null;
    }
}
