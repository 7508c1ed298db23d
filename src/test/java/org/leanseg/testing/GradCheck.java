package org.leanseg.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.leanseg.tensor.TensorSpec;

/**
 * Finite-difference gradient check. The function under test is traced on graph inputs; its
 * outputs are contracted with fixed random weights R (L = sum_k <y_k, R_k>, accumulated in
 * double); autograd's vector-Jacobian product with seeds R is compared with central differences
 * of L for every element of every differentiable input (or a random sample of at most
 * {@code maxPerInput} elements).
 *
 * <p>Kernels compute in float32, so the step {@code eps} is large (1e-2 by default) and the
 * comparison is relative to the largest gradient of each input: diff = max|a - n| / max(max|n|, 1e-3).
 */
public final class GradCheck {
    private final List<TensorSpec> specs = new ArrayList<>();
    private final List<Tensor> data = new ArrayList<>();
    private final List<Boolean> differentiable = new ArrayList<>();
    private double eps = 1e-2;
    private double tolerance = 2e-2;
    private int maxPerInput = 60;
    private long seed = 1;

    /** Adds a differentiable input with the given values. */
    public GradCheck input(Tensor t) {
        specs.add(t.spec());
        data.add(t);
        differentiable.add(true);
        return this;
    }

    /** Adds an input without gradient (labels, running statistics). */
    public GradCheck constant(Tensor t) {
        specs.add(t.spec());
        data.add(t);
        differentiable.add(false);
        return this;
    }

    public GradCheck eps(double e) {
        this.eps = e;
        return this;
    }

    public GradCheck tolerance(double t) {
        this.tolerance = t;
        return this;
    }

    public GradCheck maxPerInput(int m) {
        this.maxPerInput = m;
        return this;
    }

    public GradCheck seed(long s) {
        this.seed = s;
        return this;
    }

    /** The function under test, traced on graph {@code g} from its inputs. */
    @FunctionalInterface
    public interface Traced {
        List<Value> trace(Graph g, List<Value> in);
    }

    /** Traces {@code fn} on the inputs and checks the gradients; returns the worst relative difference. */
    public double check(String what, Traced fn) {
        Graph g = new Graph();
        List<Value> ins = new ArrayList<>();
        for (int i = 0; i < specs.size(); i++) {
            ins.add(g.input("in" + i, specs.get(i)));
        }
        List<Value> outs = fn.trace(g, ins);
        Random rnd = new Random(seed);
        List<Tensor> weights = new ArrayList<>();
        Map<Value, Value> seeds = new LinkedHashMap<>();
        for (Value o : outs) {
            g.markOutput(o);
            weights.add(Tensor.uniform(o.spec().shape(), -1, 1, rnd));
            seeds.put(o, g.input("seed" + o.id(), o.spec()));
        }
        List<Value> wrt = new ArrayList<>();
        for (int i = 0; i < ins.size(); i++) {
            if (differentiable.get(i)) {
                wrt.add(ins.get(i));
            }
        }
        Map<Value, Value> grads = Autograd.vjp(g, seeds, wrt);
        grads.values().forEach(g::markOutput);

        Map<Value, Tensor> feeds = new HashMap<>();
        for (int i = 0; i < ins.size(); i++) {
            feeds.put(ins.get(i), data.get(i).copy());
        }
        int k = 0;
        for (Value s : seeds.values()) {
            feeds.put(s, weights.get(k++));
        }
        double worst = 0;
        try (Executor ex = new Executor(g, new ReferenceBackend(), new VariableStore())) {
            ex.run(feeds);
            Map<Value, Tensor> analytic = new HashMap<>();
            for (Value w : wrt) {
                Value gv = grads.get(w);
                analytic.put(w, gv == null ? Tensor.zeros(w.spec().shape()) : ex.read(gv));
            }
            for (Value w : wrt) {
                Tensor x = feeds.get(w);
                Tensor a = analytic.get(w);
                int n = x.data().length;
                int[] idx = sample(n, rnd);
                double maxDiff = 0;
                double maxNum = 0;
                for (int i : idx) {
                    float orig = x.data()[i];
                    x.data()[i] = (float) (orig + eps);
                    double plus = loss(ex, feeds, outs, weights);
                    x.data()[i] = (float) (orig - eps);
                    double minus = loss(ex, feeds, outs, weights);
                    x.data()[i] = orig;
                    double num = (plus - minus) / (2 * eps);
                    maxDiff = Math.max(maxDiff, Math.abs(num - a.data()[i]));
                    maxNum = Math.max(maxNum, Math.abs(num));
                }
                double rel = maxDiff / Math.max(maxNum, 1e-3);
                worst = Math.max(worst, rel);
                assertTrue(rel <= tolerance, what + ": gradient of input " + w + " differs by " + rel
                        + " (max |numeric| " + maxNum + ", max |diff| " + maxDiff + ")");
                assertTrue(!Double.isNaN(rel), what + ": NaN gradient");
            }
        }
        return worst;
    }

    private int[] sample(int n, Random rnd) {
        if (n <= maxPerInput) {
            int[] all = new int[n];
            for (int i = 0; i < n; i++) {
                all[i] = i;
            }
            return all;
        }
        int[] s = new int[maxPerInput];
        for (int i = 0; i < s.length; i++) {
            s[i] = rnd.nextInt(n);
        }
        return s;
    }

    private static double loss(Executor ex, Map<Value, Tensor> feeds, List<Value> outs, List<Tensor> weights) {
        ex.run(feeds);
        double l = 0;
        for (int k = 0; k < outs.size(); k++) {
            float[] y = ex.read(outs.get(k)).data();
            float[] r = weights.get(k).data();
            for (int i = 0; i < y.length; i++) {
                l += (double) y[i] * r[i];
            }
        }
        return l;
    }
}
