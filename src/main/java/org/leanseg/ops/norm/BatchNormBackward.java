package org.leanseg.ops.norm;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Training-mode batch-norm backward (PyTorch's native_batch_norm_backward): inputs
 * {@code (x, gamma, saveMean, saveInvStd, dY)}, outputs {@code (dX, dGamma, dBeta)}. With
 * {@code xhat = (x - mean)*invStd} and sums over (N, H, W) of a channel:
 * {@code dBeta = sum dY}, {@code dGamma = sum dY*xhat},
 * {@code dX = gamma*invStd*(dY - dBeta/n - xhat*dGamma/n)}. Sums are accumulated in double.
 * Has no backward of its own.
 */
public record BatchNormBackward() implements Op {
    @Override
    public String name() {
        return "batch_norm_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        NormShapes.count(in, 5, "x, gamma, saveMean, saveInvStd, dY");
        Shape x = NormShapes.activation(in.get(0), "x");
        int c = NormShapes.channels(x);
        NormShapes.vector(in.get(1), c, "gamma", x);
        NormShapes.vector(in.get(2), c, "saveMean", x);
        NormShapes.vector(in.get(3), c, "saveInvStd", x);
        NormShapes.sameAs(in.get(4), in.get(0), "dY");
        return List.of(in.get(0), in.get(1), in.get(1));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 8 * in.get(0).shape().numel();
    }

    /** Reference kernel: one task per channel. */
    public static void reference(BatchNormBackward op, RefView[] in, RefView[] out) {
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
                double[] sums = BatchNormBackwardFromOutput.channelSums(x, dy, mean, invStd, nb, ch, hw, c);   // x̂ = (x − mean)·invStd
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
}
