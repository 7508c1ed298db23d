package org.leanseg.graph.passes;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Role;
import org.leanseg.graph.Value;

/**
 * Note [Late gradients]: a backward op whose output is first read much later, and whose output is
 * larger than the inputs that would die at it, runs right before that first reader instead. Autograd
 * appends each op's backward where the op's gradient is complete; for a skip connection that is far
 * from where the gradient is used: DeepLabV3+'s decoder projects the backbone's low-level features
 * (Xception-65: 256 channels at stride 4) to 48 channels, so the projection's data gradient (256
 * channels, 128 MiB at 1024x2048) was made in the decoder's backward and then waited through the whole
 * backbone backward for block 1's. Made late it costs the 48-channel gradient it reads (24 MiB) over
 * that stretch instead.
 *
 * <p>What moves: a BACKWARD node that writes no input in place, whose outputs are activations, when
 * the bytes of its outputs exceed the bytes of its activation inputs that no node reads after the
 * first reader (those live longer after the move), and no node in between may write its output over
 * one of its inputs (the planner's in-place aliasing, {@code Op.inPlaceInput}: reading that input later
 * would cost the in-place op a buffer of its own), and its first reader, a BACKWARD node (not an
 * update, which {@link UpdatesInBackward} brings up to its gradient), is more than one node later. The
 * bytes live at each step in between then fall by the difference. A pair moves together when the node
 * alone does not gain but the node right before it makes its large input for it alone (the dense
 * activation convolution's backward, Note [Activation into a dense convolution]: a 1x1 data gradient
 * of 256 channels gated by the activation backward, both moved, so that only the 48-channel gradient
 * waits). No node between the two places may
 * write one of its inputs in place, so it reads the same values and the step computes the same bits;
 * only lifetimes change. The pass runs before {@link UpdatesInBackward}, so an update
 * of a weight the moved op reads still follows it. Checked by {@code LateGradientsTest}.
 *
 * <pre>{@code
 * Rebuild.Result r = LateGradients.apply(stepGraph); // same values, some backward ops later
 * }</pre>
 */
public final class LateGradients {
    private LateGradients() {
    }

    /** {@code g} with each node that gains from it moved to right before its first reader. */
    public static Rebuild.Result apply(Graph g) {
        List<Node> nodes = DeadCode.schedule(g);
        Map<Node, Integer> position = new IdentityHashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            position.put(nodes.get(i), i);
        }
        Map<Node, List<Node>> waiting = new IdentityHashMap<>(); // the node moved before -> the moved nodes
        Map<Node, Node> placeOf = new IdentityHashMap<>();
        for (int i = 0; i < nodes.size(); i++) {
            Node n = nodes.get(i);
            Node reader = firstReader(n, position);
            // a reader that is an update (OPTIMIZER) moves up to its gradient anyway (Note [Updates in backward])
            if (reader == null || reader.phase() != Phase.BACKWARD) {
                continue;
            }
            // before the recomputations made for the reader too, so they stay right before it (Recompute)
            int at = position.get(reader);
            while (at - 1 > i && nodes.get(at - 1).phase() == Phase.RECOMPUTE) {
                at--;
            }
            if (gains(List.of(n), i, at, nodes)) {
                placeOf.put(n, nodes.get(at));
                continue;
            }
            // Note [Late gradients] for a pair: n's large input made right before it, for n alone
            Node p = i > 0 ? nodes.get(i - 1) : null;
            if (p != null && feedsOnly(p, n) && gains(List.of(p, n), i - 1, at, nodes)) {
                placeOf.put(p, nodes.get(at));
                placeOf.put(n, nodes.get(at));
            }
        }
        // a node whose reader moves too (elsewhere) would read its inputs later than checked: it stays
        for (Node n : List.copyOf(placeOf.keySet())) {
            Node reader = firstReader(n, position);
            if (placeOf.containsKey(reader) && placeOf.get(reader) != placeOf.get(n)) {
                placeOf.remove(n);
            }
        }
        for (Node n : nodes) {
            if (placeOf.containsKey(n)) {
                waiting.computeIfAbsent(placeOf.get(n), k -> new ArrayList<>()).add(n);
            }
        }
        Set<Node> moved = placeOf.keySet();
        if (moved.isEmpty()) {
            return Rebuild.run(g, (out, n, in) -> null);
        }
        Map<Value, Value> map = new IdentityHashMap<>();
        return Rebuild.run(g, map, (out, n, in) -> {
            if (moved.contains(n)) {
                return Rebuild.DROP; // emitted before its first reader
            }
            if (!waiting.containsKey(n) || waiting.get(n).isEmpty()) {
                return null;
            }
            emitWaiting(out, n, waiting, map);
            return out.apply(n.op(), mapped(out, n, map)); // its inputs now include the moved nodes' outputs
        });
    }

    /** Appends the nodes moved to just before {@code n}, in graph order. */
    private static void emitWaiting(Graph out, Node n, Map<Node, List<Node>> waiting, Map<Value, Value> map) {
        for (Node w : waiting.getOrDefault(n, List.of())) {
            List<Value> outs;
            try (var ph = out.phase(w.phase()); var st = out.stage(w.stage())) {
                outs = out.apply(w.op(), mapped(out, w, map));
            }
            for (int i = 0; i < outs.size(); i++) {
                map.put(w.output(i), outs.get(i));
            }
        }
    }

    private static Value[] mapped(Graph out, Node n, Map<Value, Value> map) {
        Value[] ins = new Value[n.inputs().size()];
        for (int k = 0; k < ins.length; k++) {
            Value v = n.input(k);
            ins[k] = v.variable() != null ? out.variable(v.variable()) : map.get(v);
        }
        return ins;
    }

    /** The scheduled node that reads one of {@code n}'s outputs first; null when none does (or an output is a graph output). */
    static Node firstReader(Node n, Map<Node, Integer> position) {
        Node first = null;
        for (Value o : n.outputs()) {
            for (Node u : o.users()) {
                Integer at = position.get(u);
                if (at != null && (first == null || at < position.get(first))) {
                    first = u;
                }
            }
        }
        return first;
    }

    /** Whether every output of {@code p} is an activation that {@code n} alone reads. */
    private static boolean feedsOnly(Node p, Node n) {
        if (p.outputs().isEmpty()) {
            return false;
        }
        for (Value o : p.outputs()) {
            if (o.role() != Role.ACTIVATION || o.users().size() != 1 || o.users().get(0) != n) {
                return false;
            }
        }
        return true;
    }

    /**
     * Whether moving {@code group} (consecutive nodes from {@code at}, each feeding only the next) to
     * just before {@code readerAt} is allowed and frees bytes: the last one's outputs against the
     * group's activation inputs from outside it that would then live longer.
     */
    private static boolean gains(List<Node> group, int at, int readerAt, List<Node> nodes) {
        Node last = group.get(group.size() - 1);
        int lastAt = at + group.size() - 1;
        if (readerAt <= lastAt + 1 || last.outputs().isEmpty()) {
            return false;
        }
        for (Node n : group) {
            if (n.phase() != Phase.BACKWARD || n.op().mutatedInputs().length > 0) {
                return false;
            }
        }
        long outBytes = 0;
        for (Value o : last.outputs()) {
            if (o.role() != Role.ACTIVATION) {
                return false;
            }
            outBytes += o.bytes();
        }
        long extended = 0;
        Set<Value> inputs = Collections.newSetFromMap(new IdentityHashMap<>());
        for (Node n : group) {
            for (Value in : n.inputs()) {
                if ((in.producer() != null && group.contains(in.producer())) || !inputs.add(in)) {
                    continue;
                }
                if (in.role() == Role.ACTIVATION && lastRead(in, lastAt, nodes) < readerAt) {
                    extended += in.bytes(); // it lives on to the new place
                }
            }
        }
        if (outBytes <= extended) {
            return false;
        }
        for (int j = lastAt + 1; j < readerAt; j++) {
            Node m = nodes.get(j);
            for (int k : m.op().mutatedInputs()) {
                if (inputs.contains(m.input(k))) {
                    return false; // it would read a value written in between
                }
            }
            for (int i = 0; i < m.outputs().size(); i++) {
                int k = m.op().inPlaceInput(i);
                if (k >= 0 && inputs.contains(m.input(k))) {
                    return false; // m may write its output over that input now; read later, it would need its own buffer
                }
            }
        }
        return true;
    }

    /** The last position, from {@code at} on, of a node that reads {@code v}. */
    private static int lastRead(Value v, int at, List<Node> nodes) {
        int last = at;
        for (int j = at + 1; j < nodes.size(); j++) {
            if (nodes.get(j).inputs().contains(v)) {
                last = j;
            }
        }
        return last;
    }
}
