package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Group-norm backward, outputs {@code (dX, dGamma, dBeta)}; its {@link Source} says where x̂ comes
 * from, and with it the inputs and the table name. Per (sample, group) of m elements, with
 * {@code g = dY*gamma[c]}: {@code dX = invStd*(g - sum(g)/m - xhat*sum(g*xhat)/m)}; per channel
 * {@code dGamma = sum dY*xhat}, {@code dBeta = sum dY} over (N, H, W). Sums in double.
 * Has no backward of its own.
 *
 * <pre>{@code
 * g.apply(new GroupNormBackward(32, GroupNormBackward.Source.Y), y, gamma, beta, saveInvStd, dY);
 * }</pre>
 * Check: {@code mvn -q test -Dtest=GroupNormTest+GroupNormInPlaceTest}.
 */
public record GroupNormBackward(int groups, Source source) implements Op {
    /** Where x̂ comes from. */
    public enum Source {
        /** Stock GN: inputs {@code (x, gamma, saveMean, saveInvStd, dY)}, x̂ = (x − mean)·invStd. */
        X("group_norm_backward", "x", "saveMean", 12),
        /**
         * In-place GN (Note [In-place GN backward]): inputs {@code (y, gamma, beta, saveInvStd, dY)},
         * x̂ = (y − β_c)/γ_c. The per-channel sums run first, so dX may overwrite dY.
         */
        Y("group_norm_backward_from_output", "y", "beta", 14);

        private final String opName;
        private final String activation;
        private final String vector2;
        private final int flopsPerElement;

        Source(String opName, String activation, String vector2, int flopsPerElement) {
            this.opName = opName;
            this.activation = activation;
            this.vector2 = vector2;
            this.flopsPerElement = flopsPerElement;
        }

        public String opName() {
            return opName;
        }
    }

    public GroupNormBackward {
        if (source == null) {
            throw new IllegalArgumentException("group_norm backward source is null");
        }
    }

    /** The stock backward ({@link Source#X}). */
    public GroupNormBackward(int groups) {
        this(groups, Source.X);
    }

    @Override
    public String name() {
        return source.opName();
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        String a = source.activation;
        NormShapes.count(in, 5, a + ", gamma, " + source.vector2 + ", saveInvStd, dY");
        Shape x = NormShapes.activation(in.get(0), a);
        int c = NormShapes.channels(x);
        OpException.check(groups >= 1 && c % groups == 0, "channels " + c + " of " + a + " " + x + " are not divisible by groups " + groups);
        NormShapes.vector(in.get(1), c, "gamma", x);
        int stats = NormShapes.batch(x) * groups;
        NormShapes.vector(in.get(2), source == Source.X ? stats : c, source.vector2, x);
        NormShapes.vector(in.get(3), stats, "saveInvStd", x);
        NormShapes.sameAs(in.get(4), in.get(0), "dY");
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    /** From the output, each block of dX is written after its dY was last read (the per-channel sums come first). */
    @Override
    public int inPlaceInput(int output) {
        return source == Source.Y && output == 0 ? 4 : -1;
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return source.flopsPerElement * in.get(0).shape().numel();
    }

    /** Reference kernel, by source. */
    public static void reference(GroupNormBackward op, RefView[] in, RefView[] out) {
        if (op.source == Source.X) {
            fromInput(op.groups, in, out);
        } else {
            fromOutput(op.groups, in, out);
        }
    }

    /** dX one task per (sample, group); dGamma/dBeta one task per channel. */
    private static void fromInput(int groups, RefView[] in, RefView[] out) {
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
        int cpg = ch / groups;
        int m = cpg * hw;
        Parallel.range(nb * groups, NormShapes.grain(3L * m), (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int base = t * m;
                int c0 = (t % groups) * cpg;
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
                    int t = b * groups + c / cpg;
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

    /** dGamma/dBeta one task per channel, then dX one task per (sample, group); dX may be dY's view. */
    private static void fromOutput(int groups, RefView[] in, RefView[] out) {
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
        int cpg = ch / groups;
        int m = cpg * hw;
        Parallel.range(ch, NormShapes.grain(2L * nb * hw), (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                double[] sums = BatchNormBackward.channelSums(y, dy, beta.get(c), 1.0 / gamma.get(c), nb, ch, hw, c);
                out[1].set(c, (float) sums[1]);
                out[2].set(c, (float) sums[0]);
            }
        });
        Parallel.range(nb * groups, NormShapes.grain(3L * m), (lo, hi) -> {
            for (int t = lo; t < hi; t++) {
                int base = t * m;
                int c0 = (t % groups) * cpg;
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
