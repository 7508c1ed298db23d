package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Group-norm backward: inputs {@code (x, gamma, saveMean, saveInvStd, dY)}, outputs
 * {@code (dX, dGamma, dBeta)}. Per (sample, group) of m elements, with
 * {@code xhat = (x - mean)*invStd} and {@code g = dY*gamma[c]}:
 * {@code dX = invStd*(g - sum(g)/m - xhat*sum(g*xhat)/m)}; per channel
 * {@code dGamma = sum dY*xhat}, {@code dBeta = sum dY} over (N, H, W). Sums in double.
 * Has no backward of its own.
 */
public record GroupNormBackward(int groups) implements Op {
    @Override
    public String name() {
        return "group_norm_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 5, "x, gamma, saveMean, saveInvStd, dY");
        Shape x = NormShapes.activation(in.get(0), "x");
        int c = NormShapes.channels(x);
        OpException.check(groups >= 1 && c % groups == 0, "channels " + c + " of x " + x + " are not divisible by groups " + groups);
        NormShapes.vector(in.get(1), c, "gamma", x);
        NormShapes.vector(in.get(2), NormShapes.batch(x) * groups, "saveMean", x);
        NormShapes.vector(in.get(3), NormShapes.batch(x) * groups, "saveInvStd", x);
        NormShapes.sameAs(in.get(4), in.get(0), "dY");
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 12 * in.get(0).shape().numel();
    }

    /** Reference kernel: dX one task per (sample, group); dGamma/dBeta one task per channel. */
    public static void reference(GroupNormBackward op, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView gamma = in[1];
        RefView mean = in[2];
        RefView invStd = in[3];
        RefView dy = in[4];
        RefView dx = out[0];
        Shape s = x.shape();
        int nb = NormShapes.batch(s);
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        int cpg = ch / op.groups;
        int m = cpg * hw;
        Parallel.range(nb * op.groups, NormShapes.grain(3L * m), (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int base = t * m;
                int c0 = (t % op.groups) * cpg;
                double mu = mean.get(t);
                double is = invStd.get(t);
                double sumG = 0;
                double sumGXhat = 0;
                for (int k = 0; k < cpg; k++) {
                    double ga = gamma.get(c0 + k);
                    int pb = base + k * hw;
                    for (int i = 0; i < hw; i++) {
                        double gv = dy.get(pb + i) * ga;
                        sumG += gv;
                        sumGXhat += gv * (x.get(pb + i) - mu) * is;
                    }
                }
                double meanG = sumG / m;
                double meanGXhat = sumGXhat / m;
                for (int k = 0; k < cpg; k++) {
                    double ga = gamma.get(c0 + k);
                    int pb = base + k * hw;
                    for (int i = 0; i < hw; i++) {
                        double xhat = (x.get(pb + i) - mu) * is;
                        dx.set(pb + i, (float) (is * (dy.get(pb + i) * ga - meanG - xhat * meanGXhat)));
                    }
                }
            }
        });
        Parallel.range(ch, NormShapes.grain(2L * nb * hw), (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double sumDy = 0;
                double sumDyXhat = 0;
                for (int b = 0; b < nb; b++) {
                    int t = b * op.groups + c / cpg;
                    double mu = mean.get(t);
                    double is = invStd.get(t);
                    int pb = (b * ch + c) * hw;
                    for (int i = 0; i < hw; i++) {
                        double g = dy.get(pb + i);
                        sumDy += g;
                        sumDyXhat += g * (x.get(pb + i) - mu) * is;
                    }
                }
                out[1].set(c, (float) sumDyXhat);
                out[2].set(c, (float) sumDy);
            }
        });
    }
}
