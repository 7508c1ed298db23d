package org.leanseg.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.leanseg.tensor.TensorSpec;

/**
 * One SSA value of a graph: its spec, the node that makes it (null for inputs and variables),
 * the nodes that read it, the stage that made it and its role.
 */
public final class Value {
    private final int id;
    private final TensorSpec spec;
    private final Node producer;
    private final int outputIndex;
    private final String stage;
    private final Role role;
    private final Variable variable;
    private final String name;
    private final List<Node> users = new ArrayList<>();

    Value(int id, TensorSpec spec, Node producer, int outputIndex, String stage, Role role, Variable variable, String name) {
        this.id = id;
        this.spec = spec;
        this.producer = producer;
        this.outputIndex = outputIndex;
        this.stage = stage;
        this.role = role;
        this.variable = variable;
        this.name = name;
    }

    public int id() {
        return id;
    }

    public TensorSpec spec() {
        return spec;
    }

    public Node producer() {
        return producer;
    }

    public int outputIndex() {
        return outputIndex;
    }

    public String stage() {
        return stage;
    }

    public Role role() {
        return role;
    }

    /** The persistent variable this value stands for, or null. */
    public Variable variable() {
        return variable;
    }

    /** The name given to an input or variable, else null. */
    public String name() {
        return name;
    }

    public List<Node> users() {
        return Collections.unmodifiableList(users);
    }

    void addUser(Node n) {
        users.add(n);
    }

    public long bytes() {
        return spec.bytes();
    }

    @Override
    public String toString() {
        return "%" + id + (name != null ? "(" + name + ")" : "") + ":" + spec;
    }
}
