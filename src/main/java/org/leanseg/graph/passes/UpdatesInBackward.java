package org.leanseg.graph.passes;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;

/**
 * Note [Updates in backward]: each optimizer update (and, with accumulation, each gradient
 * accumulation) runs as soon as its gradient is complete instead of after the whole backward,
 * as PyTorch's "optimizer in backward" does with post-accumulate-grad hooks. A parameter's
 * gradient then lives from the op that finishes it to its update, a short arena value, instead of
 * to the end of the step: at the end of backward, where every gradient used to be live at once,
 * that is the whole size of the weights less the last few layers'.
 *
 * <p>Which nodes move: those that write an input in place and have no outputs (Sgd, AdamW,
 * AccumulateInto): nothing reads after them, so only their own inputs hold them back. Each goes
 * right after the last node it depends on, in graph order:
 * <ul>
 *   <li>the producers of its inputs (the gradient);</li>
 *   <li>every other reader or writer of a value it writes (the parameter: forward, backward data,
 *       recomputed forward copies, in-place BN's backward reading γ and β; the momentum);</li>
 *   <li>every other writer of a value it reads.</li>
 * </ul>
 * Every pair of nodes that touch the same value therefore keeps its order, so the step computes
 * exactly what it computed with the updates last, bit for bit (each update is elementwise over its
 * own parameter); only lifetimes change. A step whose updates need all gradients at once must
 * make that a data dependency: fp16's loss-scaled updates (Note [Dynamic loss scaling]) take the
 * overflow flag of {@code loss_scale_update}, which reads every gradient, so its node is their last
 * dependency and they stay after the whole backward (an overflow skips every update; no saving in
 * fp16, bf16 and fp32 keep it). Anything needing all gradients without such an input (e.g.
 * global-norm clipping done outside the graph) must not use this pass. The
 * executor checks the in-place guards before the first op of a step (Note [In-place guards]), so a
 * step is never abandoned after some parameters were updated. Checked by {@code UpdatesInBackwardTest}
 * (order constraints, bit-exact training for SGD and AdamW under every recompute policy, fp16
 * updates after the overflow check).
 *
 * <pre>{@code
 * Rebuild.Result r = UpdatesInBackward.apply(stepGraph); // same values, updates moved up
 * }</pre>
 */
public final class UpdatesInBackward {
    private UpdatesInBackward() {
    }

    /** Whether {@code n} moves: it writes an input in place and has no outputs. */
    static boolean movable(Node n) {
        return n.op().mutatedInputs().length > 0 && n.outputs().isEmpty();
    }

    /** {@code g} with every movable node right after the last node it depends on. */
    public static Rebuild.Result apply(Graph g) {
        List<Node> nodes = g.nodes();
        Map<Node, Integer> position = new IdentityHashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            position.put(nodes.get(i), i);
        }
        Map<Node, List<Node>> followers = new IdentityHashMap<>();
        for (Node n : nodes) {
            if (movable(n)) {
                Node after = lastDependency(n, position);
                if (after != null) {
                    followers.computeIfAbsent(after, k -> new ArrayList<>()).add(n);
                }
            }
        }
        Map<Value, Value> map = new IdentityHashMap<>();
        Map<Node, Boolean> emitted = new IdentityHashMap<>();
        return Rebuild.run(g, map, (out, n, in) -> {
            if (emitted.containsKey(n)) {
                return Rebuild.DROP; // already placed after its last dependency
            }
            List<Value> outs = out.apply(n.op(), in.toArray(new Value[0]));
            for (int i = 0; i < outs.size(); i++) {
                map.put(n.output(i), outs.get(i));
            }
            emitFollowers(out, n, followers, map, emitted);
            return outs;
        });
    }

    /** Appends the nodes waiting for {@code n}, and theirs, in graph order. */
    private static void emitFollowers(Graph out, Node n, Map<Node, List<Node>> followers, Map<Value, Value> map,
                                      Map<Node, Boolean> emitted) {
        for (Node f : followers.getOrDefault(n, List.of())) {
            Value[] ins = new Value[f.inputs().size()];
            for (int k = 0; k < ins.length; k++) {
                Value v = f.input(k);
                ins[k] = v.variable() != null ? out.variable(v.variable()) : map.get(v);
            }
            try (var ph = out.phase(f.phase()); var st = out.stage(f.stage())) {
                out.apply(f.op(), ins);
            }
            emitted.put(f, true);
            emitFollowers(out, f, followers, map, emitted);
        }
    }

    /** The latest node (by graph position) that {@code u} must follow; null when it depends on none before it. */
    static Node lastDependency(Node u, Map<Node, Integer> position) {
        int self = position.get(u);
        Node last = null;
        int lastAt = -1;
        List<Integer> written = new ArrayList<>();
        for (int k : u.op().mutatedInputs()) {
            written.add(k);
        }
        for (int k = 0; k < u.inputs().size(); k++) {
            Value v = u.input(k);
            boolean writes = written.contains(k);
            List<Node> touching = new ArrayList<>(v.users());
            if (v.producer() != null) {
                touching.add(v.producer());
            }
            for (Node w : touching) {
                Integer at = position.get(w);
                if (w == u || at == null || at > self) {
                    continue; // later nodes keep following it: it only moves up
                }
                boolean conflict = w == v.producer() || writes || writesValue(w, v);
                if (conflict && at > lastAt) {
                    last = w;
                    lastAt = at;
                }
            }
        }
        return last;
    }

    private static boolean writesValue(Node w, Value v) {
        for (int k : w.op().mutatedInputs()) {
            if (w.input(k) == v) {
                return true;
            }
        }
        return false;
    }
}
