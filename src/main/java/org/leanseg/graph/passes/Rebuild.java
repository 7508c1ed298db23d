package org.leanseg.graph.passes;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;

/**
 * Replays a graph into a new one, node by node, letting a rule replace, drop or precede each node.
 * Graphs are append-only and SSA, so every rewrite pass (fusion, recomputation) is such a replay.
 * Inputs keep their names and order, variables stay the same {@link org.leanseg.graph.Variable}s,
 * every node keeps its stage and phase, and graph outputs stay outputs.
 *
 * <pre>{@code
 * Rebuild.Result r = Rebuild.run(g, (out, n, in) -> null); // a plain copy
 * Value lossInCopy = r.get(loss);
 * }</pre>
 */
public final class Rebuild {
    /** What a rule returns to drop a node: its outputs get no value in the new graph. */
    public static final List<Value> DROP = List.of();

    private Rebuild() {
    }

    /** Decides what node {@code n} of the old graph becomes. */
    @FunctionalInterface
    public interface Rule {
        /**
         * Appends the replacement of {@code n} to {@code out} (inputs already mapped) and returns
         * the new values of n's outputs; null copies the node unchanged; {@link #DROP} drops it.
         * An input is null where the rule dropped its producer: the rule must then replace n.
         * Runs inside n's stage and phase.
         */
        List<Value> rewrite(Graph out, Node n, List<Value> in);
    }

    /** The new graph and the old-to-new value map. */
    public record Result(Graph graph, Map<Value, Value> map) {
        /** The new value of an old one; throws when the old one was dropped. */
        public Value get(Value old) {
            if (old == null) {
                return null;
            }
            Value v = map.get(old);
            if (v == null) {
                throw new GraphException("value " + old + " has no counterpart in the rewritten graph");
            }
            return v;
        }
    }

    public static Result run(Graph src, Rule rule) {
        return run(src, new IdentityHashMap<>(), rule);
    }

    /** As {@link #run(Graph, Rule)}, filling {@code map} (old to new) as it goes, so a rule can read it. */
    public static Result run(Graph src, Map<Value, Value> map, Rule rule) {
        Graph dst = new Graph();
        for (Value in : src.inputs()) {
            try (var st = dst.stage(in.stage())) {
                map.put(in, dst.input(in.name(), in.spec()));
            }
        }
        for (Node n : src.nodes()) {
            List<Value> ins = new ArrayList<>(n.inputs().size());
            for (Value v : n.inputs()) {
                ins.add(v.variable() != null ? dst.variable(v.variable()) : map.get(v));
            }
            List<Value> outs;
            try (var ph = dst.phase(n.phase()); var st = dst.stage(n.stage())) {
                outs = rule.rewrite(dst, n, ins);
                if (outs == null) {
                    if (ins.contains(null)) {
                        throw new GraphException("cannot copy " + n + ": an input was dropped by the rewrite");
                    }
                    outs = dst.apply(n.op(), ins.toArray(new Value[0]));
                }
            }
            if (outs == DROP) {
                continue;
            }
            if (outs.size() != n.outputs().size()) {
                throw new GraphException("rewrite of " + n + " gave " + outs.size() + " outputs");
            }
            for (int i = 0; i < outs.size(); i++) {
                map.put(n.output(i), outs.get(i));
            }
        }
        for (Value o : src.outputs()) {
            dst.markOutput(o.variable() != null ? dst.variable(o.variable()) : new Result(dst, map).get(o));
        }
        return new Result(dst, map);
    }

    /** Composes two rewrites: old → mid → new. */
    public static Result compose(Result first, Result second) {
        Map<Value, Value> m = new IdentityHashMap<>();
        first.map().forEach((k, v) -> {
            Value w = second.map().get(v);
            if (w != null) {
                m.put(k, w);
            }
        });
        return new Result(second.graph(), m);
    }
}
