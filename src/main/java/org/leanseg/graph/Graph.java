package org.leanseg.graph;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.TensorSpec;

/**
 * A static graph traced from Java model code: nodes in execution order, SSA values with static
 * specs, each tagged with the stage (scope path) that made it.
 *
 * <pre>{@code
 * Graph g = new Graph();
 * Value x = g.input("x", TensorSpec.f32(2, 3, 64, 64));
 * try (var s = g.scope("stem")) {
 *     x = g.apply1(new Conv2d(...), x, g.variable(weight));
 * }
 * }</pre>
 */
public final class Graph {
    private final List<Node> nodes = new ArrayList<>();
    private final List<Value> values = new ArrayList<>();
    private final List<Value> inputs = new ArrayList<>();
    private final List<Value> outputs = new ArrayList<>();
    private final Map<Variable, Value> variables = new IdentityHashMap<>();
    private final Deque<String> scopes = new ArrayDeque<>();
    private Phase phase = Phase.FORWARD;

    /** Opens a stage scope; stages nest with dots: "backbone.features.3". */
    public Scope scope(String name) {
        scopes.addLast(name);
        return new Scope(name);
    }

    /** Runs a block of appended ops in a phase (autograd uses BACKWARD, optimizers OPTIMIZER). */
    public PhaseScope phase(Phase p) {
        Phase before = phase;
        phase = p;
        return () -> phase = before;
    }

    /** Sets the stage path directly (autograd tags backward ops with their forward op's stage). */
    public Scope stage(String path) {
        Deque<String> saved = new ArrayDeque<>(scopes);
        scopes.clear();
        if (!path.isEmpty()) {
            scopes.addLast(path);
        }
        return new Scope(null) {
            @Override
            public void close() {
                scopes.clear();
                scopes.addAll(saved);
            }
        };
    }

    public String currentStage() {
        return String.join(".", scopes);
    }

    public Phase currentPhase() {
        return phase;
    }

    public Value input(String name, TensorSpec spec) {
        Value v = newValue(spec, null, 0, Role.INPUT, null, name);
        inputs.add(v);
        return v;
    }

    /** The value that stands for a persistent variable in this graph (one per variable). */
    public Value variable(Variable var) {
        return variables.computeIfAbsent(var, k -> newValue(k.spec(), null, 0, k.role(), k, k.name()));
    }

    /** Appends {@code op} applied to {@code in}; returns its outputs. Shape errors name op, stage and shapes. */
    public List<Value> apply(Op op, Value... in) {
        List<Value> ins = List.of(in);
        List<TensorSpec> specs = ins.stream().map(Value::spec).collect(Collectors.toList());
        List<TensorSpec> outSpecs;
        try {
            outSpecs = op.infer(specs);
        } catch (OpException e) {
            throw new GraphException(op.name() + " at stage '" + currentStage() + "': " + e.getMessage()
                    + " (inputs " + specs + ", attributes " + op + ")", e);
        }
        Node node = new Node(nodes.size(), op, ins, currentStage(), phase);
        List<Value> outs = new ArrayList<>(outSpecs.size());
        for (int i = 0; i < outSpecs.size(); i++) {
            outs.add(newValue(outSpecs.get(i), node, i, Role.ACTIVATION, null, null));
        }
        node.setOutputs(outs);
        for (Value v : ins) {
            v.addUser(node);
        }
        nodes.add(node);
        return outs;
    }

    /** Appends a single-output op and returns its output. */
    public Value apply1(Op op, Value... in) {
        List<Value> outs = apply(op, in);
        if (outs.size() != 1) {
            throw new GraphException(op.name() + " has " + outs.size() + " outputs; use apply()");
        }
        return outs.get(0);
    }

    /** Marks a value as a graph output: it is kept until the end of the step and can be read back. */
    public void markOutput(Value v) {
        if (!outputs.contains(v)) {
            outputs.add(v);
        }
    }

    private Value newValue(TensorSpec spec, Node producer, int idx, Role role, Variable var, String name) {
        Value v = new Value(values.size(), spec, producer, idx, currentStage(), role, var, name);
        values.add(v);
        return v;
    }

    public List<Node> nodes() {
        return Collections.unmodifiableList(nodes);
    }

    public List<Value> values() {
        return Collections.unmodifiableList(values);
    }

    public List<Value> inputs() {
        return Collections.unmodifiableList(inputs);
    }

    public List<Value> outputs() {
        return Collections.unmodifiableList(outputs);
    }

    public Map<Variable, Value> variables() {
        return Collections.unmodifiableMap(variables);
    }

    /** A readable listing, one node a line. */
    public String dump() {
        StringBuilder sb = new StringBuilder();
        for (Node n : nodes) {
            sb.append(n).append('\n');
        }
        return sb.toString();
    }

    /** Closes a stage scope. */
    public class Scope implements AutoCloseable {
        private final String name;

        Scope(String name) {
            this.name = name;
        }

        @Override
        public void close() {
            String last = scopes.pollLast();
            if (last == null || !last.equals(name)) {
                throw new IllegalStateException("stage scopes closed out of order: " + name + " vs " + last);
            }
        }
    }

    /** Restores the previous phase. */
    public interface PhaseScope extends AutoCloseable {
        @Override
        void close();
    }
}
