package org.leanseg.ops.shape;

import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.Op;
import org.leanseg.ops.OpException;
import org.leanseg.tensor.Shape;
import org.leanseg.tensor.TensorSpec;

/**
 * Channels {@code [start, start + count)} of an [N, C, H, W] tensor ({@code x[:, start:start+count]}):
 * the backward of {@link Concat}. Has no backward of its own.
 */
public record ChannelSlice(int start, int count) implements Op {
    public ChannelSlice {
        if (start < 0 || count < 1) {
            throw new IllegalArgumentException("channel_slice needs start >= 0 and count >= 1, got " + start + ", " + count);
        }
    }

    @Override
    public String name() {
        return "channel_slice";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input, got " + in.size());
        Shape s = ShapeChecks.nchw(in.get(0), "input");
        OpException.check(start + count <= s.dim(1),
                "channels [" + start + ", " + (start + count) + ") are outside input " + s);
        return List.of(new TensorSpec(s.withDim(1, count), in.get(0).dtype()));
    }

    /** Reference kernel: one task per output (n, c) plane. */
    public static void reference(ChannelSlice op, RefView[] in, RefView[] out) {
        RefView x = in[0];
        RefView y = out[0];
        Shape s = x.shape();
        int ch = s.dim(1);
        int hw = s.dim(2) * s.dim(3);
        int count = op.count;
        Parallel.range(s.dim(0) * count, ShapeChecks.grain(hw), (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int n = p / count;
                int c = op.start + p % count;
                System.arraycopy(x.data(), x.offset() + (n * ch + c) * hw, y.data(), y.offset() + p * hw, hw);
            }
        });
    }
}
