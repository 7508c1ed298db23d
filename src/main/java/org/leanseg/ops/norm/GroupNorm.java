package org.leanseg.ops.norm;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.graph.Graph;
import org.leanseg.graph.Node;
import org.leanseg.graph.Value;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * GroupNorm with PyTorch semantics ({@code torch.nn.GroupNorm}): inputs
 * {@code (x [N,C,H,W], gamma [C], beta [C])}; the C channels are split into {@code groups}
 * consecutive groups, each (sample, group) is normalised with its own mean and biased variance,
 * then scaled per channel. Outputs {@code (y, saveMean [N*groups], saveInvStd [N*groups])},
 * statistics ordered sample-major ({@code n*groups + g}). Same in training and eval. With
 * {@code inPlace} ({@code group_norm_inplace}), y may overwrite x and backward reads y instead
 * ({@link GroupNormBackward.Source#Y}); the InPlaceVariants rewrite puts it in place of the stock op.
 *
 * <p>Note [In-place GN backward]. As Note [In-place BN backward], with group statistics: GN's
 * backward needs x̂ = (x − mean_{n,g})·invStd_{n,g}, and since y = γ_c·x̂ + β_c with a per-channel
 * affine, x̂ = (y − β_c)/γ_c is recovered from y alone, whatever the group statistics were. So x
 * dies at this op, y takes its buffer, and one tensor per layer is kept; an activation after it is
 * recomputed from y in backward (cheap-op recompute). The same γ guard applies per channel
 * ({@link BatchNorm#guardViolation}, checked by the executor before every step), and a layer
 * that fails it is left stock ({@code StepPasses.withStockBatchNorm} takes its γ as well).
 * GN has no running statistics, so a recomputed copy is the op itself.
 *
 * <pre>{@code
 * Value y = g.apply(new GroupNorm(32, 1e-5), x, gamma, beta).get(0);
 * g.apply(new GroupNorm(32, 1e-5, true), x, gamma, beta); // x must die here
 * }</pre>
 * Reference check: {@code mvn -Dtest=GroupNormTest test}.
 */
public record GroupNorm(int groups, double eps, boolean inPlace) implements Op {
    public GroupNorm {
        if (groups < 1) {
            throw new IllegalArgumentException("group_norm needs groups >= 1, got " + groups);
        }
        if (!(eps > 0)) {
            throw new IllegalArgumentException("group_norm eps must be > 0, got " + eps);
        }
    }

    /** Stock GroupNorm. */
    public GroupNorm(int groups, double eps) {
        this(groups, eps, false);
    }

    @Override
    public String name() {
        return inPlace ? "group_norm_inplace" : "group_norm";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 3, "x, gamma, beta");
        Shape x = NormShapes.activation(in.get(0), "x");
        int c = NormShapes.channels(x);
        OpException.check(c % groups == 0, "channels " + c + " of x " + x + " are not divisible by groups " + groups);
        NormShapes.vector(in.get(1), c, "gamma", x);
        NormShapes.vector(in.get(2), c, "beta", x);
        int stats = NormShapes.batch(x) * groups;
        return List.of(in.get(0), TensorSpec.f32(stats), TensorSpec.f32(stats));
    }

    @Override
    public List<Value> backward(Graph g, Node node, List<Value> gradOut) {
        Value dy = gradOut.get(0);
        if (dy == null) {
            return Arrays.asList(null, null, null);
        }
        if (inPlace) {
            return g.apply(new GroupNormBackward(groups, GroupNormBackward.Source.Y), node.output(0), node.input(1), node.input(2),
                    node.output(2), dy);
        }
        return g.apply(new GroupNormBackward(groups, GroupNormBackward.Source.X), node.input(0), node.input(1), node.output(1),
                node.output(2), dy);
    }

    /** In place, y may overwrite x: see Note [In-place GN backward]. */
    @Override
    public int inPlaceInput(int output) {
        return inPlace && output == 0 ? 0 : -1;
    }

    @Override
    public Op inPlaceVariant() {
        return inPlace ? null : new GroupNorm(groups, eps, true);
    }

    /** Note [BN through a depthwise replay]: GN replays itself, having no running statistics. */
    @Override
    public Replay cheapToReplay() {
        return Replay.CHEAP_AFTER_DEPTHWISE;
    }

    /** In place, γ is inverted: the executor checks γ (input 1) and β (input 2) before every step. */
    @Override
    public int[] guardedInputs() {
        return inPlace ? new int[] {1, 2} : new int[0];
    }

    @Override
    public String guardViolation(RefView[] guarded) {
        return BatchNorm.guardViolation(guarded[0], guarded[1]);
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 7 * in.get(0).shape().numel();
    }

    /**
     * Reference kernel: one task per (sample, group); a group is one contiguous block of x. Safe when
     * y and x are one view: each block's statistics are taken before the block is written, and
     * blocks are disjoint.
     */
    public static void reference(GroupNorm op, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView y = out[0];
        Shape s = x.shape();
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        int cpg = ch / op.groups;
        int m = cpg * hw;
        int tasks = NormShapes.batch(s) * op.groups;
        Parallel.range(tasks, NormShapes.grain(3L * m), (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int base = t * m;
                double sum = 0;
                for (int i = 0; i < m; i++) {
                    sum += x.get(base + i);
                }
                double mean = sum / m;
                double sq = 0;
                for (int i = 0; i < m; i++) {
                    double d = x.get(base + i) - mean;
                    sq += d * d;
                }
                double invStd = 1.0 / Math.sqrt(sq / m + op.eps);
                out[1].set(t, (float) mean);
                out[2].set(t, (float) invStd);
                int c0 = (t % op.groups) * cpg;
                for (int k = 0; k < cpg; k++) {
                    double scale = in[1].get(c0 + k) * invStd;
                    double shift = in[2].get(c0 + k) - mean * scale;
                    int pb = base + k * hw;
                    for (int i = 0; i < hw; i++) {
                        y.set(pb + i, (float) (x.get(pb + i) * scale + shift));
                    }
                }
            }
        });
    }
}
