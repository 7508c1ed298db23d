package org.leanseg.ops.shape;

import org.leanseg.backend.cpu.CpuBackend;
import org.leanseg.backend.cpu.CpuNative;
import org.leanseg.backend.cpu.CpuView;
import org.leanseg.tensor.Shape;

/** The cpu column of the resize, pool and concat rows ({@code Ops}): native kernels over plain NCHW views, float32 or 16-bit. */
public final class ShapeCpu {
    private ShapeCpu() {
    }

    public static void resize(Resize op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.resize(in[0].address(), out[0].address(), s.dim(0) * s.dim(1), s.dim(2), s.dim(3), op.outH(), op.outW(),
                op.alignCorners(), CpuNative.dtypeCode(in[0], out[0]));
    }

    public static void resizeBackward(ResizeBackward op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.resizeBackward(in[0].address(), out[0].address(), s.dim(0) * s.dim(1), op.inH(), op.inW(), s.dim(2), s.dim(3),
                op.alignCorners(), CpuNative.dtypeCode(in[0], out[0]));
    }

    public static void globalAvgPool(GlobalAvgPool op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.globalAvgPool(in[0].address(), out[0].address(), s.dim(0) * s.dim(1), s.dim(2) * s.dim(3),
                CpuNative.dtypeCode(in[0], out[0]));
    }

    public static void globalAvgPoolBackward(GlobalAvgPoolBackward op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape s = in[0].spec().shape();
        CpuNative.globalAvgPoolBackward(in[0].address(), out[0].address(), s.dim(0) * s.dim(1), op.height() * op.width(),
                CpuNative.dtypeCode(in[0], out[0]));
    }

    public static void concat(Concat op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape y = out[0].spec().shape();
        int hw = y.dim(2) * y.dim(3);
        int at = 0;
        for (CpuView x : in) {
            int c = x.spec().shape().dim(1);
            CpuNative.copyChannels(x.address(), c, 0, out[0].address(), y.dim(1), at, c, y.dim(0), hw, CpuNative.dtypeCode(x, out[0]));
            at += c;
        }
    }

    public static void channelSlice(ChannelSlice op, CpuBackend cpu, CpuView[] in, CpuView[] out) {
        Shape x = in[0].spec().shape();
        CpuNative.copyChannels(in[0].address(), x.dim(1), op.start(), out[0].address(), op.count(), 0, op.count(), x.dim(0),
                x.dim(2) * x.dim(3), CpuNative.dtypeCode(in[0], out[0]));
    }
}
