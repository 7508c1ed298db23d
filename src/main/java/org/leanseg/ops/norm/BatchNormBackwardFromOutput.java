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
            for (int c = lo; c < hi; c++) {
                double gamma = in[1].get(c);
                double beta = in[2].get(c);
                double invGamma = 1.0 / gamma;
                double[] sums = channelSums(y, dy, beta, invGamma, nb, ch, hw, c);
                double sumDy = sums[0];
                double sumDyXhat = sums[1];
                out[1].set(c, (float) sumDyXhat);
                out[2].set(c, (float) sumDy);
                double k = gamma * in[3].get(c);
                double meanDy = sumDy / n;
                double meanDyXhat = sumDyXhat / n;
                for (int b = 0; b < nb; b++) {
                    int base = (b * ch + c) * hw;
                    for (int i = 0; i < hw; i++) {
                        double xhat = (y.get(base + i) - beta) * invGamma;
                        dx.set(base + i, (float) (k * (dy.get(base + i) - meanDy - xhat * meanDyXhat)));
                    }
                }
            }
        });
    }

    /**
     * {sum dY, sum dY·x̂} over channel {@code c} with x̂ = (y − β)/γ recovered from the output:
     * dβ and dγ of BN and GN from their outputs (shared by {@link GroupNormBackwardFromOutput}).
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
