package org.leanseg.autograd;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.leanseg.graph.Graph;
import org.leanseg.graph.GraphException;
import org.leanseg.graph.Node;
import org.leanseg.graph.Phase;
import org.leanseg.graph.Value;
import org.leanseg.graph.Variable;
import org.leanseg.ops.elementwise.AccumulateInto;
import org.leanseg.ops.elementwise.Add;
import org.leanseg.ops.elementwise.Fill;

/**
 * Appends the backward of a traced graph: walks the forward nodes in reverse and asks each op's
 * backward rule for its inputs' gradients, summing where a value has several users. Ops it adds
 * carry the forward op's stage and the BACKWARD phase. Gradients nothing needs are pruned later
 * by the executor's dead-code removal.
 */
public final class Autograd {
    private Autograd() {
    }

    /**
     * Appends gradient ops of scalar {@code loss} with respect to {@code wrt}; returns the gradient
     * value of each (absent when it does not reach the loss).
     */
    public static Map<Value, Value> gradients(Graph g, Value loss, List<Value> wrt) {
        if (loss.spec().shape().numel() != 1) {
            throw new GraphException("loss must be a scalar, got " + loss.spec());
        }
        Value seed;
        try (var ph = g.phase(Phase.BACKWARD); var st = g.stage(loss.stage())) {
            seed = g.apply1(new Fill(loss.spec(), 1f));
        }
        return vjp(g, Map.of(loss, seed), wrt);
    }

    /**
     * Vector-Jacobian product: appends the gradients of {@code wrt} given the gradients
     * {@code seeds} of some values (gradient checks seed the outputs with random tensors).
     */
    public static Map<Value, Value> vjp(Graph g, Map<Value, Value> seeds, List<Value> wrt) {
        List<Node> forward = new ArrayList<>(g.nodes());
        Set<Value> needs = requiresGrad(forward, wrt);
        Map<Value, Value> grad = new IdentityHashMap<>(seeds);
        for (int i = forward.size() - 1; i >= 0; i--) {
            Node n = forward.get(i);
            boolean anyInputNeeds = n.inputs().stream().anyMatch(needs::contains);
            List<Value> gOut = new ArrayList<>();
            boolean anyGrad = false;
            for (Value o : n.outputs()) {
                Value go = grad.get(o);
                gOut.add(go);
                anyGrad |= go != null;
            }
            if (!anyInputNeeds || !anyGrad) {
                continue;
            }
            List<Value> gIn;
            try (var ph = g.phase(Phase.BACKWARD); var st = g.stage(n.stage())) {
                gIn = n.op().backward(g, n, gOut);
                for (int k = 0; k < gIn.size(); k++) {
                    Value in = n.input(k);
                    Value gi = gIn.get(k);
                    if (gi == null || !needs.contains(in)) {
                        continue;
                    }
                    if (!gi.spec().shape().equals(in.spec().shape())) {
                        throw new GraphException(n.op().name() + " backward at stage '" + n.stage() + "' gave gradient "
                                + gi.spec() + " for input " + in.spec());
                    }
                    Value prev = grad.get(in);
                    grad.put(in, prev == null ? gi : g.apply1(new Add(), prev, gi));
                }
            }
        }
        Map<Value, Value> result = new LinkedHashMap<>();
        for (Value w : wrt) {
            Value gw = grad.get(w);
            if (gw != null) {
                result.put(w, gw);
            }
        }
        return result;
    }

    /** Values that depend on any of {@code wrt} (forward reachability). */
    private static Set<Value> requiresGrad(List<Node> forward, List<Value> wrt) {
        Set<Value> needs = new HashSet<>(wrt);
        for (Node n : forward) {
            if (n.inputs().stream().anyMatch(needs::contains)) {
                needs.addAll(n.outputs());
            }
        }
        return needs;
    }

    /**
     * Accumulate mode: appends {@code acc += grad} for each parameter into its persistent gradient
     * variable, so several micro-batches sum exactly before one optimizer step.
     */
    public static void accumulate(Graph g, Map<Value, Value> grads, Map<Variable, Variable> gradientOf) {
        try (var ph = g.phase(Phase.BACKWARD)) {
            for (Map.Entry<Value, Value> e : grads.entrySet()) {
                Variable param = e.getKey().variable();
                Variable acc = param == null ? null : gradientOf.get(param);
                if (acc == null) {
                    throw new GraphException("no gradient accumulator for " + e.getKey() + " among " + Arrays.toString(gradientOf.keySet().toArray()));
                }
                try (var st = g.stage(e.getValue().stage())) {
                    g.apply(new AccumulateInto(), g.variable(acc), e.getValue());
                }
            }
        }
    }
}
