package org.leanseg.testing;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.leanseg.autograd.Autograd;
import org.leanseg.backend.reference.ReferenceBackend;
import org.leanseg.exec.Executor;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Value;
import org.leanseg.tensor.Tensor;

/**
 * Runs a traced function and its vector-Jacobian product with fixed random seeds once, and returns
 * the outputs followed by the gradient of every input: for comparing two formulations of the same
 * math (a fused op against the ops it replaces).
 */
public final class Vjp {
    private Vjp() {
    }

    public static List<Tensor> run(GradCheck.Traced fn, long seed, Tensor... inputs) {
        Graph g = new Graph();
        List<Value> ins = new ArrayList<>();
        for (int i = 0; i < inputs.length; i++) {
            ins.add(g.input("in" + i, inputs[i].spec()));
        }
        List<Value> outs = fn.trace(g, ins);
        Random rnd = new Random(seed);
        Map<Value, Value> seeds = new LinkedHashMap<>();
        Map<Value, Tensor> feeds = new HashMap<>();
        for (Value o : outs) {
            g.markOutput(o);
            Value s = g.input("seed" + o.id(), o.spec());
            seeds.put(o, s);
            feeds.put(s, Tensor.uniform(o.spec().shape(), -1, 1, rnd));
        }
        Map<Value, Value> grads = Autograd.vjp(g, seeds, ins);
        grads.values().forEach(g::markOutput);
        for (int i = 0; i < inputs.length; i++) {
            feeds.put(ins.get(i), inputs[i].copy());
        }
        List<Tensor> result = new ArrayList<>();
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            ex.run(feeds);
            for (Value o : outs) {
                result.add(ex.read(o));
            }
            for (Value in : ins) {
                Value gv = grads.get(in);
                result.add(gv == null ? Tensor.zeros(in.spec().shape()) : ex.read(gv));
            }
        }
        return result;
    }

    /** Largest |a - b| relative to max(max|b|, 1e-3). */
    public static double relDiff(Tensor a, Tensor b) {
        double d = 0;
        double m = 1e-3;
        for (int i = 0; i < a.data().length; i++) {
            d = Math.max(d, Math.abs(a.data()[i] - b.data()[i]));
            m = Math.max(m, Math.abs(b.data()[i]));
        }
        return d / m;
    }
}
