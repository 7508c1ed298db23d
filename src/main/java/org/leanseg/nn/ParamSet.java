package org.leanseg.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.leanseg.exec.VariableStore;
import org.leanseg.graph.Role;
import org.leanseg.graph.Variable;
import org.leanseg.tensor.DType;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.Tensor;
import org.leanseg.tensor.TensorSpec;

/**
 * The persistent tensors of a model in registration order, named by PyTorch state_dict keys,
 * each with its initialisation rule (MODEL_SPEC.md "Init": Kaiming normal with fan_in for conv
 * weights, BN gamma 1 / beta 0, running mean 0 / var 1, biases 0).
 */
public final class ParamSet {
    /** How a variable starts when no weights are loaded. */
    public enum Init {
        /** N(0, 2/fan_in), fan_in = (cin/groups)*kh*kw = product of dims after the first. */
        KAIMING_FAN_IN, ONES, ZEROS
    }

    /** A registered variable with its init and whether weight decay applies (not to norm/bias). */
    public record Entry(Variable variable, Init init, boolean decay) {
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final Map<String, Variable> slots = new LinkedHashMap<>();

    /**
     * The persistent slot {@code kind/<name>} of parameter {@code p} (SGD momentum, gradient
     * accumulator), created once: every graph built for this model shares it, so rebuilding a
     * step graph keeps the optimizer state.
     */
    public Variable slot(String kind, Variable p, Role role) {
        return slots.computeIfAbsent(kind + "/" + p.name(), k -> new Variable(k, p.spec(), role));
    }

    /**
     * The model-wide persistent slot {@code name} (the loss-scaling state), created once and shared
     * by every graph of the model, as {@link #slot}; it starts at zero in a new store.
     */
    public Variable state(String name, TensorSpec spec, Role role) {
        return slots.computeIfAbsent(name, k -> new Variable(k, spec, role));
    }

    public Variable parameter(String name, Init init, boolean decay, int... shape) {
        return add(new Variable(name, new TensorSpec(Shape.of(shape), DType.F32), Role.PARAMETER), init, decay);
    }

    public Variable buffer(String name, Init init, DType dtype, int... shape) {
        return add(new Variable(name, new TensorSpec(Shape.of(shape), dtype), Role.BUFFER), init, false);
    }

    private Variable add(Variable v, Init init, boolean decay) {
        if (entries.containsKey(v.name())) {
            throw new IllegalArgumentException("duplicate parameter name " + v.name());
        }
        entries.put(v.name(), new Entry(v, init, decay));
        return v;
    }

    public List<Entry> entries() {
        return List.copyOf(entries.values());
    }

    public Variable get(String name) {
        Entry e = entries.get(name);
        if (e == null) {
            throw new IllegalArgumentException("no parameter named " + name);
        }
        return e.variable();
    }

    public Map<String, Variable> byName() {
        Map<String, Variable> m = new LinkedHashMap<>();
        entries.forEach((k, e) -> m.put(k, e.variable()));
        return Collections.unmodifiableMap(m);
    }

    public List<Variable> parameters() {
        List<Variable> ps = new ArrayList<>();
        for (Entry e : entries.values()) {
            if (e.variable().role() == Role.PARAMETER) {
                ps.add(e.variable());
            }
        }
        return ps;
    }

    /** Number of trainable elements. */
    public long parameterCount() {
        long n = 0;
        for (Variable v : parameters()) {
            n += v.spec().shape().numel();
        }
        return n;
    }

    /** Writes every variable's initial value into {@code store}, deterministically from {@code seed}. */
    public void initialize(VariableStore store, long seed) {
        SplittableRandom root = new SplittableRandom(seed);
        for (Entry e : entries.values()) {
            SplittableRandom rnd = root.split();
            Shape s = e.variable().spec().shape();
            float[] d = new float[s.size()];
            switch (e.init()) {
                case ONES -> java.util.Arrays.fill(d, 1f);
                case ZEROS -> { }
                case KAIMING_FAN_IN -> {
                    long fanIn = s.numel() / s.dim(0);
                    double std = Math.sqrt(2.0 / fanIn);
                    for (int i = 0; i < d.length; i++) {
                        d[i] = (float) (std * gaussian(rnd));
                    }
                }
                default -> throw new IllegalStateException();
            }
            store.set(e.variable(), new Tensor(e.variable().spec(), d));
        }
    }

    private static double gaussian(SplittableRandom rnd) {
        double u1 = rnd.nextDouble();
        double u2 = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
}
