package org.leanseg.exec;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import org.leanseg.graph.Variable;
import org.leanseg.tensor.Tensor;

/**
 * Host copies of persistent variables (weights, BN statistics, gradient accumulators, optimizer
 * state). Variables without a value start at zero. The reference backend runs on these arrays
 * directly; a device backend uploads them once and syncs back on request.
 */
public final class VariableStore {
    private final Map<Variable, Tensor> values = new IdentityHashMap<>();

    public Tensor get(Variable v) {
        return values.computeIfAbsent(v, k -> Tensor.zeros(k.spec().shape()));
    }

    public void set(Variable v, Tensor t) {
        if (!t.shape().equals(v.spec().shape())) {
            throw new IllegalArgumentException("variable " + v.name() + " has shape " + v.spec().shape() + ", got " + t.shape());
        }
        Tensor cur = values.get(v);
        if (cur != null) {
            System.arraycopy(t.data(), 0, cur.data(), 0, cur.data().length);
        } else {
            values.put(v, t.copy());
        }
    }

    public boolean has(Variable v) {
        return values.containsKey(v);
    }

    /** Name to tensor, in insertion order. */
    public Map<String, Tensor> byName() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        values.forEach((k, t) -> m.put(k.name(), t));
        return Collections.unmodifiableMap(m);
    }
}
