package org.leanseg.graph;

import org.leanseg.tensor.TensorSpec;

/**
 * A persistent named tensor that outlives one graph: a parameter (name = PyTorch state_dict key),
 * a BN running statistic, a gradient accumulator or an optimizer slot. Graphs refer to it by
 * identity, so a training graph and an evaluation graph share the same weights.
 */
public final class Variable {
    private final String name;
    private final TensorSpec spec;
    private final Role role;

    public Variable(String name, TensorSpec spec, Role role) {
        if (!role.persistent()) {
            throw new IllegalArgumentException("variable " + name + " must have a persistent role, not " + role);
        }
        this.name = name;
        this.spec = spec;
        this.role = role;
    }

    public String name() {
        return name;
    }

    public TensorSpec spec() {
        return spec;
    }

    public Role role() {
        return role;
    }

    @Override
    public String toString() {
        return name + ":" + spec;
    }
}
