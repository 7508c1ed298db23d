package org.leanseg.graph;

import java.util.List;
import org.leanseg.ops.Op;

/** One op application in execution order. */
public final class Node {
    private final int index;
    private final Op op;
    private final List<Value> inputs;
    private List<Value> outputs;
    private final String stage;
    private final Phase phase;

    Node(int index, Op op, List<Value> inputs, String stage, Phase phase) {
        this.index = index;
        this.op = op;
        this.inputs = List.copyOf(inputs);
        this.stage = stage;
        this.phase = phase;
    }

    void setOutputs(List<Value> outputs) {
        this.outputs = List.copyOf(outputs);
    }

    public int index() {
        return index;
    }

    public Op op() {
        return op;
    }

    public List<Value> inputs() {
        return inputs;
    }

    public Value input(int i) {
        return inputs.get(i);
    }

    public List<Value> outputs() {
        return outputs;
    }

    public Value output(int i) {
        return outputs.get(i);
    }

    public String stage() {
        return stage;
    }

    public Phase phase() {
        return phase;
    }

    @Override
    public String toString() {
        return outputs + " = " + op + inputs + " @" + stage + "/" + phase;
    }
}
