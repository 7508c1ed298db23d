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
 * GroupNorm that may overwrite its input and whose backward reads its output instead: inputs and
 * outputs as {@link GroupNorm} ({@code x, gamma, beta} → {@code y, saveMean, saveInvStd}, statistics
 * per (sample, group)), the same forward arithmetic. Put in place of {@link GroupNorm} by the
 * {@code InPlaceGroupNorm} rewrite.
 *
 * <p>Note [In-place GN backward]. As Note [In-place BN backward], with group statistics: GN's
 * backward needs x̂ = (x − mean_{n,g})·invStd_{n,g}, and since y = γ_c·x̂ + β_c with a per-channel
 * affine, x̂ = (y − β_c)/γ_c is recovered from y alone, whatever the group statistics were. So x
 * dies at this op, y takes its buffer, and one tensor per layer is kept; an activation after it is
 * recomputed from y in backward (cheap-op recompute). The same γ guard applies per channel
 * ({@link BatchNormInPlace#guardViolation}, checked by the executor before every step), and a layer
 * that fails it is left stock GroupNorm ({@code StepPasses.withStockBatchNorm} takes its γ as well).
 * GN has no running statistics, so a recomputed copy is the op itself.
 *
 * <pre>{@code
 * List<Value> out = g.apply(new GroupNormInPlace(32, 1e-5), x, gamma, beta); // x must die here
 * }</pre>
 * Check: {@code mvn -q test -Dtest=GroupNormInPlaceTest}.
 */
public record GroupNormInPlace(int groups, double eps) implements Op {
    public GroupNormInPlace {
        new GroupNorm(groups, eps); // validates groups and eps
    }

    public GroupNormInPlace(GroupNorm stock) {
        this(stock.groups(), stock.eps());
    }

    GroupNorm stock() {
        return new GroupNorm(groups, eps);
    }

    @Override
    public String name() {
        return "group_norm_inplace";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        return stock().infer(in);
    }

    /** y may overwrite x: see Note [In-place GN backward]. */
    @Override
    public int inPlaceInput(int output) {
        return output == 0 ? 0 : -1;
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dy = gradOut.get(0);
        if (dy == null) {
            return Arrays.asList(null, null, null);
        }
        return g.apply(new GroupNormBackwardFromOutput(groups), node.output(0), node.input(1), node.input(2), node.output(2), dy);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return stock().flops(in);
    }

    /**
     * Reference kernel: {@link GroupNorm#reference}, which is safe when y and x are one view (each
     * (sample, group) block's statistics are taken before the block is written; blocks are disjoint).
     */
    public static void reference(GroupNormInPlace op, RefView[] in, RefView[] out) {
        GroupNorm.reference(op.stock(), in, out);
    }
}
