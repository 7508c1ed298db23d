package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Eval-mode batch-norm backward: the running statistics are constants, so batch norm is a
 * per-channel affine map. Inputs {@code (x, gamma, runningMean, runningVar, dY)}, outputs
 * {@code (dX, dGamma, dBeta)}: {@code invStd = 1/sqrt(rv + eps)}, {@code dX = dY*gamma*invStd},
 * {@code dGamma = sum dY*(x - rm)*invStd}, {@code dBeta = sum dY} (sums over N, H, W in double).
 * Has no backward of its own.
 */
public record BatchNormEvalBackward(double eps) implements Op {
    @Override
    public String name() {
        return "batch_norm_eval_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 5, "x, gamma, runningMean, runningVar, dY");
        Shape x = NormShapes.activation(in.get(0), "x");
        int c = NormShapes.channels(x);
        NormShapes.vector(in.get(1), c, "gamma", x);
        NormShapes.vector(in.get(2), c, "runningMean", x);
        NormShapes.vector(in.get(3), c, "runningVar", x);
        NormShapes.sameAs(in.get(4), in.get(0), "dY");
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 5 * in.get(0).shape().numel();
    }

    /** Reference kernel: one task per channel. */
    public static void reference(BatchNormEvalBackward op, RefView[] in, RefView[] out) {
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
                double invStd = 1.0 / Math.sqrt(in[3].get(c) + op.eps);
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
}
