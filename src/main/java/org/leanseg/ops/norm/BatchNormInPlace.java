package org.leanseg.ops.norm;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.tensor.TensorSpec;

/**
 * Training-mode BatchNorm2d that may overwrite its input and whose backward reads its output
 * instead: inputs and outputs as {@link BatchNorm} in training ({@code x, gamma, beta, runningMean,
 * runningVar} → {@code y, saveMean, saveInvStd}), same forward arithmetic and running-statistics
 * update. Put in place of {@link BatchNorm} by the {@code InPlaceBatchNorm} rewrite.
 *
 * <p>Note [In-place BN backward]. Stock BatchNorm's backward needs x̂ = (x − mean)·invStd, so the
 * input x stays alive until backward, next to the output y that the following op reads: two
 * tensors per layer. Since y = γ·x̂ + β, the backward can recover x̂ = (y − β)/γ from y alone
 * (In-Place Activated BatchNorm, Rota Bulò et al. 2018, without its leaky-ReLU
 * reparameterisation: weights stay stock PyTorch weights). Then x dies at this op and y takes
 * its buffer (the planner aliases them), so one tensor per layer is kept. The following ReLU/ReLU6
 * must not overwrite y: the fused ReLU·depthwise conv reads y as its pre-activation input, and
 * other activations are recomputed from y in backward, so y is all that is saved.
 * The inversion divides by γ: where |γ_c| < {@link #GAMMA_GUARD}·(1 + |β_c|) the recovered x̂ loses
 * its precision (at γ = 0 it is gone), so such a layer must keep its input: the rewrite leaves it
 * stock BatchNorm, and the executor checks the guard before every step
 * ({@link #guardViolation}). Cited by InPlaceBatchNorm, BatchNormBackwardFromOutput,
 * ActDepthwiseConv2d and memory.InPlace.
 *
 * <p>Checked by {@code InPlaceOpsTest} (gradients, γ = 0, agreement with stock BatchNorm).
 */
public record BatchNormInPlace(double eps, double momentum) implements Op {
    /** Relative |γ| below which the inversion x̂ = (y − β)/γ is refused (about 10 bits of x̂ lost at worst). */
    public static final double GAMMA_GUARD = 1e-3;

    public BatchNormInPlace {
        new BatchNorm(eps, momentum, true); // validates eps and momentum
    }

    public BatchNormInPlace(BatchNorm stock) {
        this(stock.eps(), stock.momentum());
    }

    BatchNorm stock() {
        return new BatchNorm(eps, momentum, true);
    }

    @Override
    public String name() {
        return "batch_norm_inplace";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        return stock().infer(in);
    }

    @Override
    public int[] mutatedInputs() {
        return new int[] {3, 4};
    }

    /** y may overwrite x: see Note [In-place BN backward]. */
    @Override
    public int inPlaceInput(int output) {
        return output == 0 ? 0 : -1;
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dy = gradOut.get(0);
        if (dy == null) {
            return Arrays.asList(null, null, null, null, null);
        }
        List<Value> d = g.apply(new BatchNormBackwardFromOutput(), node.output(0), node.input(1), node.input(2),
                node.output(2), dy);
        return Arrays.asList(d.get(0), d.get(1), d.get(2), null, null);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return stock().flops(in);
    }

    /**
     * A recomputed copy (graph/passes/Recompute) is {@link BatchNormReplay}: batch statistics, no
     * running-statistics update; it may overwrite its (recomputed) input as well.
     */
    @Override
    public Op recomputeOp() {
        return new BatchNormReplay(eps);
    }

    /** Null when every channel's γ is far enough from 0 to invert, else which channel is not. */
    public static String guardViolation(RefView gamma, RefView beta) {
        for (int c = 0; c < gamma.size(); c++) {
            double gc = gamma.get(c);
            if (!(Math.abs(gc) >= GAMMA_GUARD * (1 + Math.abs(beta.get(c))))) {
                return "channel " + c + " has gamma " + gc + " (beta " + beta.get(c) + ")";
            }
        }
        return null;
    }

    /**
     * Reference kernel: {@link BatchNorm#reference}, which is safe when y and x are one view (each
     * channel's statistics are taken before that channel is written).
     */
    public static void reference(BatchNormInPlace op, RefView[] in, RefView[] out) {
        BatchNorm.reference(op.stock(), in, out);
    }
}
