package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Batch-norm backward, outputs {@code (dX, dGamma, dBeta)}; its {@link Source} says where x̂ comes
 * from, and with it the inputs and the table name ({@link Source#opName}). With sums over (N, H, W)
 * of a channel, accumulated in double, {@code dBeta = Σ dY}, {@code dGamma = Σ dY·x̂}, and in
 * training {@code dX = γ·invStd·(dY − dBeta/n − x̂·dGamma/n)}. Has no backward of its own.
 *
 * <pre>{@code
 * g.apply(BatchNormBackward.of(BatchNormBackward.Source.X), x, gamma, saveMean, saveInvStd, dY);
 * g.apply(BatchNormBackward.eval(1e-5), x, gamma, runningMean, runningVar, dY);
 * }</pre>
 */
public record BatchNormBackward(Source source, double eps) implements Op {
    /** Where x̂ comes from. */
    public enum Source {
        /**
         * Training ({@link BatchNorm.Mode#TRAIN}, PyTorch's native_batch_norm_backward): inputs
         * {@code (x, gamma, saveMean, saveInvStd, dY)}, x̂ = (x − mean)·invStd.
         */
        X("batch_norm_backward", "x", "saveMean", "saveInvStd", 8),
        /**
         * From the output of {@link BatchNorm.Mode#TRAIN_IN_PLACE} (Note [In-place BN backward]):
         * inputs {@code (y, gamma, beta, saveInvStd, dY)}, x̂ = (y − β)/γ; dX may overwrite dY.
         */
        Y("batch_norm_backward_from_output", "y", "beta", "saveInvStd", 10),
        /**
         * Eval mode ({@link BatchNorm.Mode#EVAL}): the running statistics are constants, so batch norm
         * is a per-channel affine map. Inputs {@code (x, gamma, runningMean, runningVar, dY)}:
         * {@code invStd = 1/sqrt(rv + eps)}, x̂ = (x − rm)·invStd, {@code dX = dY·γ·invStd}.
         */
        EVAL("batch_norm_eval_backward", "x", "runningMean", "runningVar", 5);

        private final String opName;
        private final String activation;
        private final String vector2;
        private final String vector3;
        private final int flopsPerElement;

        Source(String opName, String activation, String vector2, String vector3, int flopsPerElement) {
            this.opName = opName;
            this.activation = activation;
            this.vector2 = vector2;
            this.vector3 = vector3;
            this.flopsPerElement = flopsPerElement;
        }

        /** The op-table name of the backward from this source. */
        public String opName() {
            return opName;
        }
    }

    /** {@code eps} is read by {@link Source#EVAL} only; the other sources keep 0. */
    public BatchNormBackward {
        if (source == null) {
            throw new IllegalArgumentException("batch_norm backward source is null");
        }
        if (source != Source.EVAL) {
            eps = 0;
        } else if (!(eps > 0)) {
            throw new IllegalArgumentException("batch_norm eval backward eps must be > 0, got " + eps);
        }
    }

    /** The training backward from {@link Source#X} or {@link Source#Y}. */
    public static BatchNormBackward of(Source source) {
        if (source == Source.EVAL) {
            throw new IllegalArgumentException("the eval backward needs eps: BatchNormBackward.eval(eps)");
        }
        return new BatchNormBackward(source, 0);
    }

    /** The eval-mode backward ({@link Source#EVAL}). */
    public static BatchNormBackward eval(double eps) {
        return new BatchNormBackward(Source.EVAL, eps);
    }

    @Override
    public String name() {
        return source.opName();
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 5, source.activation + ", gamma, " + source.vector2 + ", " + source.vector3 + ", dY");
        Shape x = NormShapes.activation(in.get(0), source.activation);
        int c = NormShapes.channels(x);
        NormShapes.vector(in.get(1), c, "gamma", x);
        NormShapes.vector(in.get(2), c, source.vector2, x);
        NormShapes.vector(in.get(3), c, source.vector3, x);
        NormShapes.sameAs(in.get(4), in.get(0), "dY");
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    /** From the output, each element of dX is written after its dY was last read (the sums come first). */
    @Override
    public int inPlaceInput(int output) {
        return source == Source.Y && output == 0 ? 4 : -1;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return source.flopsPerElement * in.get(0).shape().numel();
    }

    /** Reference kernel: one task per channel, by source. */
    public static void reference(BatchNormBackward op, RefView[] in, RefView[] out) {
        switch (op.source) {
            case X -> fromInput(in, out);
            case Y -> fromOutput(in, out);
            case EVAL -> eval(op.eps, in, out);
        }
    }

    /** in = {x, gamma, saveMean, saveInvStd, dY}. */
    private static void fromInput(RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView dy = in[4];
        RefView dx = out[0];
        Shape s = x.shape();
        int nb = NormShapes.batch(s);
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        long n = (long) nb * hw;
        Parallel.range(ch, NormShapes.grain((long) nb * hw * 3), (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double mean = in[2].get(c);
                double invStd = in[3].get(c);
                double[] sums = channelSums(x, dy, mean, invStd, nb, ch, hw, c);   // x̂ = (x − mean)·invStd
                double sumDy = sums[0];
                double sumDyXhat = sums[1];
                out[1].set(c, (float) sumDyXhat);
                out[2].set(c, (float) sumDy);
                double k = in[1].get(c) * invStd;
                double meanDy = sumDy / n;
                double meanDyXhat = sumDyXhat / n;
                for (int b = 0; b < nb; b++) {
                    int base = (b * ch + c) * hw;
                    for (int i = 0; i < hw; i++) {
                        double xhat = (x.get(base + i) - mean) * invStd;
                        dx.set(base + i, (float) (k * (dy.get(base + i) - meanDy - xhat * meanDyXhat)));
                    }
                }
            }
        });
    }

    /** in = {y, gamma, beta, saveInvStd, dY}; dX may be dY's view. */
    private static void fromOutput(RefView[] in, RefView[] out) {
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

    /** in = {x, gamma, runningMean, runningVar, dY}: dX = dY·γ·invStd. */
    private static void eval(double eps, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView dy = in[4];
        RefView dx = out[0];
        Shape s = x.shape();
        int nb = NormShapes.batch(s);
        int ch = NormShapes.channels(s);
        int hw = NormShapes.spatial(s);
        Parallel.range(ch, NormShapes.grain((long) nb * hw * 2), (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double mean = in[2].get(c);
                double invStd = 1.0 / Math.sqrt(in[3].get(c) + eps);
                double k = in[1].get(c) * invStd;
                double sumDy = 0;
                double sumDyXhat = 0;
                for (int b = 0; b < nb; b++) {
                    int base = (b * ch + c) * hw;
                    for (int i = 0; i < hw; i++) {
                        double g = dy.get(base + i);
                        sumDy += g;
                        sumDyXhat += g * (x.get(base + i) - mean) * invStd;
                        dx.set(base + i, (float) (g * k));
                    }
                }
                out[1].set(c, (float) sumDyXhat);
                out[2].set(c, (float) sumDy);
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
     * dβ and dγ of BN and GN from their outputs ({@link Source#Y}, {@link GroupNormBackward}), and
     * of stock BN with x̂ = (x − mean)·invStd ({@link Source#X}).
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
