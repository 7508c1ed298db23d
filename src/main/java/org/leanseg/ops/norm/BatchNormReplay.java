package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.tensor.TensorSpec;

/**
 * A recomputed training BatchNorm: inputs and outputs as {@link BatchNorm} in training
 * ({@code x, gamma, beta, runningMean, runningVar} → {@code y, saveMean, saveInvStd}), the same batch
 * statistics and the same arithmetic, so y, saveMean and saveInvStd equal the forward's bit for bit;
 * but the running statistics are neither read nor written. {@link BatchNorm#recomputeOp()} and
 * {@link BatchNormInPlace#recomputeOp()} give it to the Recompute rewrite: the forward node updates the
 * running statistics once per step, however often a recompute policy replays the layer in backward.
 * It has no backward (it only runs in the RECOMPUTE phase, after autograd).
 *
 * <pre>{@code
 * List<Value> y = g.apply(new BatchNormReplay(1e-5), x, gamma, beta, runningMean, runningVar); // running stats untouched
 * }</pre>
 * Check: {@code mvn -q test -Dtest=BatchNormTest}.
 */
public record BatchNormReplay(double eps) implements Op {
    public BatchNormReplay {
        new BatchNorm(eps, 0, true); // validates eps
    }

    @Override
    public String name() {
        return "batch_norm_replay";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        return new BatchNorm(eps, 0, true).infer(in);
    }

    /** y may overwrite x, as in {@link BatchNormInPlace}: the kernel reads a channel before writing it. */
    @Override
    public int inPlaceInput(int output) {
        return output == 0 ? 0 : -1;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return new BatchNorm(eps, 0, true).flops(in);
    }

    /** Reference kernel: {@link BatchNorm}'s training arithmetic without the running-statistics update. */
    public static void reference(BatchNormReplay op, RefView[] in, RefView[] out) {
        BatchNorm.forward(op.eps, true, -1, in, out);
    }
}
