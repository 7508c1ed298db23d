package org.leanseg.ops.shape;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Backward of {@link GlobalAvgPool}: dY [N, C, 1, 1] broadcast to dX [N, C, H, W] as
 * {@code dY / (H*W)}. Has no backward of its own.
 */
public record GlobalAvgPoolBackward(int height, int width) implements Op {
    public GlobalAvgPoolBackward {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("global_avg_pool_backward needs a positive size, got " + height + "x" + width);
        }
    }

    @Override
    public String name() {
        return "global_avg_pool_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input (dY), got " + in.size());
        Shape s = ShapeChecks.nchw(in.get(0), "dY");
        OpException.check(s.dim(2) == 1 && s.dim(3) == 1, "dY must be [N, C, 1, 1], got " + s);
        return List.of(new TensorSpec(Shape.of(s.dim(0), s.dim(1), height, width), in.get(0).dtype()));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return in.get(0).shape().numel() * height * width;
    }

    /** Reference kernel: one task per (n, c) plane. */
    public static void reference(GlobalAvgPoolBackward op, RefView[] in, RefView[] out) {
        RefView dy = in[0];
        RefView dx = out[0];
        int hw = op.height * op.width;
        Parallel.range(dy.size(), ShapeChecks.grain(hw), (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int base = dx.offset() + p * hw;
                Arrays.fill(dx.data(), base, base + hw, (float) ((double) dy.get(p) / hw));
            }
        });
    }
}
