package org.leanseg.ops.shape;

import org.leanseg.backend.cuda.CudaBackend;
import org.leanseg.backend.cuda.CudaView;
import org.leanseg.tensor.Shape;

/**
 * CUDA bindings of the shape ops (kernels in src/main/cuda/shape.cu; bilinear taps in resize.cuh,
 * the same formulas as {@link BilinearAxis}; resize by row bands in resize_grid.cuh, Note [Resize by
 * row bands], where the shape fits). Reference: the ops' own {@code reference} kernels.
 */
public final class ShapeCuda {
    private ShapeCuda() {
    }

    /** Threads of the row-band resize kernels (LS_RS_BLOCK); output rows per forward block (LS_RS_ROWS). */
    static final int RS_BLOCK = 256;
    static final int RS_ROWS = 8;
    /** Widest output row the backward stages (LS_RS_STAGE) and widest input row it owns (LS_RS_PER x 256). */
    static final int RS_STAGE = 6144;
    static final int RS_MAX_IN_W = 8 * 256;

    /** Arguments of ls_resize_rows_k and ls_resize_backward_rows_k: sizes, source and destination, their storage type. */
    public static Object[] rowsArgs(long planes, int inH, int inW, int outH, int outW, boolean alignCorners, long src, long dst, int dt) {
        return new Object[] {(int) planes, inH, inW, outH, outW, alignCorners ? 1 : 0, src, dst, dt};
    }

    /** Whether the row-band kernels (Note [Resize by row bands] in resize_grid.cuh) take this shape. */
    public static boolean byRows(long planes, int inW, int outW) {
        return planes <= Integer.MAX_VALUE && outW <= RS_STAGE && inW <= RS_MAX_IN_W;
    }

    /**
     * The plan's workspace of a resize or its backward on cuda: float32 copies of a 16-bit one the row-band kernels do
     * not take (Note [Widened 16-bit runs]); none otherwise.
     */
    public static long resizeWorkspace(org.leanseg.ops.Op op, java.util.List<org.leanseg.tensor.TensorSpec> in) {
        org.leanseg.tensor.TensorSpec x = in.get(0);
        org.leanseg.tensor.TensorSpec y = op.infer(in).get(0);
        Shape src = x.shape();
        boolean backward = op instanceof ResizeBackward;
        long planes = (long) src.dim(0) * src.dim(1);
        boolean rows = backward ? byRows(planes, y.shape().dim(3), src.dim(3)) : byRows(planes, src.dim(3), y.shape().dim(3));
        if (!x.dtype().isHalf() || rows) {
            return 0;
        }
        return org.leanseg.memory.Planner.align(4L * x.shape().numel()) + org.leanseg.memory.Planner.align(4L * y.shape().numel());
    }

    public static void resize(Resize op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        long total = out[0].numel();
        long planes = (long) s.dim(0) * s.dim(1);
        if (byRows(planes, s.dim(3), op.outW())) {
            gpu.launchGrid("ls_resize_rows_k", (op.outH() + RS_ROWS - 1) / RS_ROWS, (int) Math.min(planes, 65_535), RS_BLOCK,
                    rowsArgs(planes, s.dim(2), s.dim(3), op.outH(), op.outW(), op.alignCorners(), in[0].address(), out[0].address(),
                            CudaBackend.typeCode(in[0].spec())));
            return;
        }
        if (in[0].spec().dtype().isHalf()) {   // the one-thread-per-element kernels are float32: float32 copies
            org.leanseg.ops.Ops.runWidened(gpu, op, in, out);
            return;
        }
        gpu.launch("ls_resize_forward_k", total, total, s.dim(2), s.dim(3), op.outH(), op.outW(), op.alignCorners() ? 1 : 0,
                in[0].address(), out[0].address());
    }

    public static void resizeBackward(ResizeBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        long total = out[0].numel();
        long planes = (long) s.dim(0) * s.dim(1);
        if (byRows(planes, op.inW(), s.dim(3))) {
            gpu.launchGrid("ls_resize_backward_rows_k", op.inH(), (int) Math.min(planes, 65_535), RS_BLOCK,
                    rowsArgs(planes, op.inH(), op.inW(), s.dim(2), s.dim(3), op.alignCorners(), in[0].address(), out[0].address(),
                            CudaBackend.typeCode(in[0].spec())));
            return;
        }
        if (in[0].spec().dtype().isHalf()) {
            org.leanseg.ops.Ops.runWidened(gpu, op, in, out);
            return;
        }
        gpu.launch("ls_resize_backward_k", total, total, op.inH(), op.inW(), s.dim(2), s.dim(3), op.alignCorners() ? 1 : 0,
                in[0].address(), out[0].address());
    }

    public static void globalAvgPool(GlobalAvgPool op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape s = in[0].spec().shape();
        if (in[0].spec().dtype().isHalf()) {   // Note [Mixed precision]: the storage type's kernel
            gpu.launchBlocks("ls_gap_forward_t_k", s.dim(0) * s.dim(1), s.dim(2) * s.dim(3), in[0].address(), out[0].address(),
                    CudaBackend.typeCode(in[0].spec()));
            return;
        }
        gpu.launchBlocks("ls_gap_forward_k", s.dim(0) * s.dim(1), s.dim(2) * s.dim(3), in[0].address(), out[0].address());
    }

    public static void globalAvgPoolBackward(GlobalAvgPoolBackward op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        long total = out[0].numel();
        if (in[0].spec().dtype().isHalf()) {
            gpu.launch("ls_gap_backward_t_k", total, total, op.height() * op.width(), in[0].address(), out[0].address(),
                    CudaBackend.typeCode(in[0].spec()));
            return;
        }
        gpu.launch("ls_gap_backward_k", total, total, op.height() * op.width(), in[0].address(), out[0].address());
    }

    /** The channel copy kernel for views of {@code v}'s type: 2-byte elements for 16-bit storage (Note [Mixed precision]). */
    private static String copyKernel(CudaView v) {
        return v.spec().dtype().isHalf() ? "ls_copy_channels16_k" : "ls_copy_channels_k";
    }

    public static void concat(Concat op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape y = out[0].spec().shape();
        int hw = y.dim(2) * y.dim(3);
        int start = 0;
        for (CudaView x : in) {
            int count = x.spec().shape().dim(1);
            long total = x.numel();
            gpu.launch(copyKernel(x), total, total, hw, count, count, 0, y.dim(1), start, x.address(), out[0].address());
            start += count;
        }
    }

    public static void channelSlice(ChannelSlice op, CudaBackend gpu, CudaView[] in, CudaView[] out) {
        Shape x = in[0].spec().shape();
        int hw = x.dim(2) * x.dim(3);
        long total = out[0].numel();
        gpu.launch(copyKernel(in[0]), total, total, hw, op.count(), x.dim(1), op.start(), op.count(), 0,
                in[0].address(), out[0].address());
    }
}
