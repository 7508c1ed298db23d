package org.leanseg.ops.conv;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Gradient of a per-channel bias: dB[c] = sum over N, H, W of dY[n, c, h, w]. Input dY f32
 * [N, C, H, W], output [C]. Sums in double per channel (channels in parallel, so the result does not
 * depend on the thread count). Appended by {@link Conv2d#backward}.
 */
public record BiasGrad() implements Op {
    @Override
    public String name() {
        return "conv2d_bias_grad";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1 && in.get(0).shape().rank() == 4,
                "takes one f32 [N, C, H, W] gradient, got " + in);
        return List.of(TensorSpec.f32(in.get(0).shape().dim(1)));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return in.get(0).shape().numel();
    }

    /** Reference kernel: in = {dY}, out = {dB}. */
    public static void reference(BiasGrad op, RefView[] in, RefView[] out) {
        RefView dy = in[0];
        Shape s = dy.shape();
        int n = s.dim(0);
        int c = s.dim(1);
        int plane = s.dim(2) * s.dim(3);
        float[] d = dy.data();
        Parallel.range(c, 1, (lo, hi) -> {
            for (int ch = lo; ch < hi; ch++) {
                double sum = 0;
                for (int b = 0; b < n; b++) {
                    int base = dy.offset() + (b * c + ch) * plane;
                    for (int i = 0; i < plane; i++) {
                        sum += d[base + i];
                    }
                }
                out[0].set(ch, (float) sum);
            }
        });
    }
}
