package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Backward of {@link GroupNormInPlace} from its output (Note [In-place GN backward]): inputs
 * {@code (y, gamma, beta, saveInvStd, dY)}, outputs {@code (dX, dGamma, dBeta)}, with
 * x̂ = (y − β_c)/γ_c and then {@link GroupNormBackward}'s formulas: per channel
 * {@code dBeta = Σ dY}, {@code dGamma = Σ dY·x̂} over (N, H, W); per (sample, group) of m elements,
 * with {@code g = dY·γ_c}, {@code dX = invStd·(g − Σg/m − x̂·Σ(g·x̂)/m)}. The per-channel sums run
 * first, so dX may overwrite dY. Sums in double. Has no backward of its own.
 *
 * <pre>{@code
 * List<Value> d = g.apply(new GroupNormBackwardFromOutput(32), y, gamma, beta, saveInvStd, dY);
 * }</pre>
 * Check: {@code mvn -q test -Dtest=GroupNormInPlaceTest}.
 */
public record GroupNormBackwardFromOutput(int groups) implements Op {
    @Override
    public String name() {
        return "group_norm_backward_from_output";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 5, "y, gamma, beta, saveInvStd, dY");
        Shape y = NormShapes.activation(in.get(0), "y");
        int c = NormShapes.channels(y);
        OpException.check(groups >= 1 && c % groups == 0, "channels " + c + " of y " + y + " are not divisible by groups " + groups);
        NormShapes.vector(in.get(1), c, "gamma", y);
        NormShapes.vector(in.get(2), c, "beta", y);
        NormShapes.vector(in.get(3), NormShapes.batch(y) * groups, "saveInvStd", y);
        NormShapes.sameAs(in.get(4), in.get(0), "dY");
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    /** Each block of dX is written after its dY was last read (the per-channel sums come first). */
    @Override
    public int inPlaceInput(int output) {
        return output == 0 ? 4 : -1;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 14 * in.get(0).shape().numel();
    }

    /** Reference kernel: dGamma/dBeta one task per channel, then dX one task per (sample, group). */
    public static void reference(GroupNormBackwardFromOutput op, RefView[] in, RefView[] out) {
        RefView y = in[0];
        RefView gamma = in[1];
        RefView beta = in[2];
        RefView invStd = in[3];
        RefView dy = in[4];
        RefView dx = out[0];
        Shape s = y.shape();
        int nb = NormShapes.batch(s);
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        int cpg = ch / op.groups;
        int m = cpg * hw;
        Parallel.range(ch, NormShapes.grain(2L * nb * hw), (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double[] sums = BatchNormBackwardFromOutput.channelSums(y, dy, beta.get(c), 1.0 / gamma.get(c), nb, ch, hw, c);
                out[1].set(c, (float) sums[1]);
                out[2].set(c, (float) sums[0]);
            }
        });
        Parallel.range(nb * op.groups, NormShapes.grain(3L * m), (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int base = t * m;
                int c0 = (t % op.groups) * cpg;
                double is = invStd.get(t);
                double sumG = 0;
                double sumGXhat = 0;
                for (int k = 0; k < cpg; k++) {
                    double ga = gamma.get(c0 + k);
                    double b = beta.get(c0 + k);
                    int pb = base + k * hw;
                    for (int i = 0; i < hw; i++) {
                        double d = dy.get(pb + i);
                        sumG += d * ga;
                        sumGXhat += d * (y.get(pb + i) - b); // g·x̂ = dY·γ·(y − β)/γ
                    }
                }
                double meanG = sumG / m;
                double meanGXhat = sumGXhat / m;
                for (int k = 0; k < cpg; k++) {
                    double ga = gamma.get(c0 + k);
                    double b = beta.get(c0 + k);
                    double invGamma = 1.0 / ga;
                    int pb = base + k * hw;
                    for (int i = 0; i < hw; i++) {
                        double xhat = (y.get(pb + i) - b) * invGamma;
                        dx.set(pb + i, (float) (is * (dy.get(pb + i) * ga - meanG - xhat * meanGXhat)));
                    }
                }
            }
        });
    }
}
