package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Backward of {@link BatchNormInPlace} from its output (Note [In-place BN backward]): inputs
 * {@code (y, gamma, beta, saveInvStd, dY)}, outputs {@code (dX, dGamma, dBeta)}, with
 * x̂ = (y − β)/γ and then the same formulas as {@link BatchNormBackward}:
 * {@code dBeta = Σ dY}, {@code dGamma = Σ dY·x̂}, {@code dX = γ·invStd·(dY − dBeta/n − x̂·dGamma/n)}.
 * dX may overwrite dY. Sums in double. Has no backward of its own.
 */
public record BatchNormBackwardFromOutput() implements Op {
    @Override
    public String name() {
        return "batch_norm_backward_from_output";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 5, "y, gamma, beta, saveInvStd, dY");
        Shape y = NormShapes.activation(in.get(0), "y");
        int c = NormShapes.channels(y);
        NormShapes.vector(in.get(1), c, "gamma", y);
        NormShapes.vector(in.get(2), c, "beta", y);
        NormShapes.vector(in.get(3), c, "saveInvStd", y);
        NormShapes.sameAs(in.get(4), in.get(0), "dY");
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    /** Each element of dX is written after its dY was last read (the sums come first). */
    @Override
    public int inPlaceInput(int output) {
        return output == 0 ? 4 : -1;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 10 * in.get(0).shape().numel();
    }

    /** Reference kernel: one task per channel. */
    public static void reference(BatchNormBackwardFromOutput op, RefView[] in, RefView[] out) {
        RefView y = in[0];
        RefView dy = in[4];
        RefView dx = out[0];
        Shape s = y.shape();
        int nb = NormShapes.batch(s);
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        long n = (long) nb * hw;
        Parallel.range(ch, NormShapes.grain((long) nb * hw * 3), (lo, hi) -> {
            double[] sumDy = new double[hi - lo];
            double[] sumDyXhat = new double[hi - lo];
            channelSums(y, dy, in[2], in[1], nb, ch, hw, lo, hi, sumDy, sumDyXhat);
            int cl = hi - lo;
            double[] beta = new double[cl];
            double[] invGamma = new double[cl];
            double[] k = new double[cl];
            for (int c = lo; c < hi; c++) {
                double gamma = in[1].get(c);
                beta[c - lo] = in[2].get(c);
                invGamma[c - lo] = 1.0 / gamma;
                out[1].set(c, (float) sumDyXhat[c - lo]);
                out[2].set(c, (float) sumDy[c - lo]);
                k[c - lo] = gamma * in[3].get(c);
                sumDy[c - lo] /= n;       // now the mean of dY
                sumDyXhat[c - lo] /= n;   // and of dY·x̂
            }
            float[] yd = y.data();
            float[] gd = dy.data();
            float[] xd = dx.data();
            if (hw > NormShapes.SMALL_PLANE) {
                for (int c = 0; c < cl; c++) {
                    for (int b = 0; b < nb; b++) {
                        int base = (b * ch + lo + c) * hw;
                        for (int i = 0; i < hw; i++) {
                            double xhat = (yd[y.offset() + base + i] - beta[c]) * invGamma[c];
                            xd[dx.offset() + base + i] = (float) (k[c] * (gd[dy.offset() + base + i] - sumDy[c] - xhat * sumDyXhat[c]));
                        }
                    }
                }
                return;
            }
            // small planes: channel-innermost (Note [Channel-innermost sums]), each element computed alike
            for (int b = 0; b < nb; b++) {
                for (int i = 0; i < hw; i++) {
                    int base = (b * ch + lo) * hw + i;
                    for (int c = 0; c < cl; c++) {
                        int at = base + c * hw;
                        double xhat = (yd[y.offset() + at] - beta[c]) * invGamma[c];
                        xd[dx.offset() + at] = (float) (k[c] * (gd[dy.offset() + at] - sumDy[c] - xhat * sumDyXhat[c]));
                    }
                }
            }
        });
    }

    /**
     * {@link #channelSums(RefView, RefView, double, double, int, int, int, int)} of channels [lo, hi)
     * into {@code sumDy[c - lo]} and {@code sumDyXhat[c - lo]}, with β and γ read from their
     * vectors. See Note [Channel-innermost sums].
     */
    static void channelSums(RefView y, RefView dy, RefView beta, RefView gamma, int nb, int ch, int hw, int lo, int hi,
                            double[] sumDy, double[] sumDyXhat) {
        int cl = hi - lo;
        if (hw > NormShapes.SMALL_PLANE) {
            for (int c = lo; c < hi; c++) {
                double[] s = channelSums(y, dy, beta.get(c), 1.0 / gamma.get(c), nb, ch, hw, c);
                sumDy[c - lo] = s[0];
                sumDyXhat[c - lo] = s[1];
            }
            return;
        }
        double[] b0 = new double[cl];
        double[] ig = new double[cl];
        for (int c = 0; c < cl; c++) {
            b0[c] = beta.get(lo + c);
            ig[c] = 1.0 / gamma.get(lo + c);
        }
        java.util.Arrays.fill(sumDy, 0, cl, 0);
        java.util.Arrays.fill(sumDyXhat, 0, cl, 0);
        float[] yd = y.data();
        float[] gd = dy.data();
        for (int b = 0; b < nb; b++) {
            for (int i = 0; i < hw; i++) {
                int ya = y.offset() + (b * ch + lo) * hw + i;
                int ga = dy.offset() + (b * ch + lo) * hw + i;
                for (int c = 0; c < cl; c++) {
                    double g = gd[ga + c * hw];
                    sumDy[c] += g;
                    sumDyXhat[c] += g * (yd[ya + c * hw] - b0[c]) * ig[c];
                }
            }
        }
    }

    /**
     * {sum dY, sum dY·x̂} over channel {@code c} with x̂ = (y − β)/γ recovered from the output:
     * dβ and dγ of BN and GN from their outputs (shared by {@link GroupNormBackwardFromOutput}), and
     * of stock BN with x̂ = (x − mean)·invStd ({@link BatchNormBackward}).
     */
    static double[] channelSums(RefView y, RefView dy, double beta, double invGamma, int nb, int ch, int hw, int c) {
        double sumDy = 0;
        double sumDyXhat = 0;
        for (int b = 0; b < nb; b++) {
            int base = (b * ch + c) * hw;
            for (int i = 0; i < hw; i++) {
                double g = dy.get(base + i);
                sumDy += g;
                sumDyXhat += g * (y.get(base + i) - beta) * invGamma;
            }
        }
        return new double[] {sumDy, sumDyXhat};
    }
}
