package org.leanseg.ops;

import java.util.List;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.tensor.TensorSpec;

/**
 * An immutable op description: attributes (as record components), shape inference, the backward
 * rule written in terms of other ops, what it writes in place, and its cost. Kernels live beside
 * it in its folder and are listed in {@link Ops}.
 */
public interface Op {
    /** The op's table name, e.g. "conv2d". */
    String name();

    /** Validates inputs and returns output specs; throws {@link OpException} naming the problem. */
    List<TensorSpec> infer(List<TensorSpec> inputs);

    /**
     * Appends the ops computing gradients of this node's inputs, given gradients of its outputs
     * (null where an output does not reach the loss). Returns one entry per input, null where the
     * input gets no gradient (labels, running statistics).
     */
    default List<Value> backward(Graph g, Node node, List<Value> gradOutputs) {
        throw new OpException(name() + " has no backward rule");
    }

    /** Inputs the kernel overwrites in place (BN running statistics, optimizer updates). */
    default int[] mutatedInputs() {
        return new int[0];
    }

    /**
     * The op a recomputed copy of this op's node runs in backward (graph/passes/Recompute): the
     * same outputs from the same inputs, bit for bit, without side effects; null when the op cannot
     * be replayed. Ops that mutate inputs must override this to recompute (training BatchNorm
     * replays its batch statistics without touching the running ones).
     */
    default Op recomputeOp() {
        return mutatedInputs().length == 0 ? this : null;
    }

    /**
     * The input that output {@code output} may overwrite, or -1. The kernel must be correct when the
     * two views coincide; the planner aliases them only where that input's lifetime ends at this op
     * (see Note [In-place BN backward] for why BN may).
     */
    default int inPlaceInput(int output) {
        return -1;
    }

    /**
     * Scratch bytes the reference kernel allocates for one run beyond its inputs and outputs (the
     * workspace region of a plan); 0 for most ops.
     */
    default long workspaceBytes(List<TensorSpec> inputs) {
        return 0;
    }

    /** Floating-point operations of one forward run (a multiply-add counts 2). */
    default long flops(List<TensorSpec> inputs) {
        return 0;
    }
}
