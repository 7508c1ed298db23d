package org.leanseg.ops;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.tensor.TensorSpec;

/**
 * An immutable op description: attributes (as record components), shape inference, the backward
 * rule written in terms of other ops, what it writes in place, and its cost. Kernels live beside
 * it in its folder and are listed in {@link Ops}. Variants that differ only in an attribute (batch
 * norm's mode, where a backward reads x̂ from) are one op; its {@link #name()} follows the attribute.
 * The passes and the executor ask an op for its traits ({@link #inPlaceVariant()},
 * {@link #cheapToReplay()}, {@link #guardedInputs()}) instead of listing op classes.
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

    /**
     * Float32 inputs the kernels compute with in the 16-bit type of the activations when those are 16-bit (Note
     * [Mixed precision]): a convolution's weights, as PyTorch's autocast casts them. The reference kernel rounds
     * them ({@code RefView.roundedTo}); a float32 kernel run on widened copies (Note [Widened 16-bit runs] in
     * {@link Ops}) gets them rounded the same way.
     */
    default int[] roundedOperands() {
        return new int[0];
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

    /**
     * The part of {@link #flops} that recomputes what the ops this one replaced computed once: a fused
     * op that trades work for memory (Note [BN backward through a 1x1 convolution]). Plans count it
     * as recomputation, not as the op's own phase; 0 for most ops.
     */
    default long recomputedFlops(List<TensorSpec> inputs) {
        return 0;
    }

    /**
     * The variant of this op whose output 0 may take input 0's buffer and whose backward reads that
     * output instead of the input (Note [In-place BN backward]), or null. The InPlaceVariants rewrite
     * puts it in where input 0 dies at this node.
     */
    default Op inPlaceVariant() {
        return null;
    }

    /** How RecomputeCheapOps treats a recomputed copy of this op (Note [BN through a depthwise replay]). */
    enum Replay {
        /** Not a cheap-op candidate by kind (dense convolutions, losses, optimizer updates). */
        COSTLY,
        /** Elementwise and shape ops: always a candidate. */
        CHEAP,
        /** Normalisations by batch statistics: a candidate when a depthwise conv of its phase made input 0. */
        CHEAP_AFTER_DEPTHWISE
    }

    default Replay cheapToReplay() {
        return Replay.COSTLY;
    }

    /**
     * Note [In-place guards]: the inputs (small variables such as γ and β) whose host values the
     * executor hands to {@link #guardViolation} before every step, for a kernel that is only right for
     * some of their values (in-place BN and GN divide by γ). The first names the layer: a step whose
     * guard fails is rebuilt with that variable's layer left stock
     * ({@code StepPasses.withStockBatchNorm}, InPlaceVariants). Empty when the op has no guard.
     */
    default int[] guardedInputs() {
        return new int[0];
    }

    /** Null when the op can run on these host values of its {@link #guardedInputs()}, else why not. */
    default String guardViolation(RefView[] guarded) {
        return null;
    }
}
