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
 * Backward of {@link Resize}: scatters each dY [N, C, outH, outW] element onto its four source
 * taps of dX [N, C, inH, inW] with the forward's weights. One task per (n, c) plane, so no two
 * tasks write the same element; each plane accumulates in double. Has no backward of its own.
 */
public record ResizeBackward(int inH, int inW, boolean alignCorners) implements Op {
    public ResizeBackward {
        if (inH < 1 || inW < 1) {
            throw new IllegalArgumentException("resize_bilinear_backward needs a positive input size, got " + inH + "x" + inW);
        }
    }

    @Override
    public String name() {
        return "resize_bilinear_backward";
    }

    @Override
    public List<TensorSpec> infer(List<TensorSpec> in) {
        OpException.check(in.size() == 1, "takes one input (dY), got " + in.size());
        Shape s = ShapeChecks.nchw(in.get(0), "dY");
        return List.of(new TensorSpec(Shape.of(s.dim(0), s.dim(1), inH, inW), in.get(0).dtype()));
    }

    @Override
    public long flops(List<TensorSpec> in) {
        return 8 * in.get(0).shape().numel();
    }

    /** Reference kernel. */
    public static void reference(ResizeBackward op, RefView[] in, RefView[] out) {
        RefView dy = in[0];
        RefView dx = out[0];
        Shape s = dy.shape();
        int outH = s.dim(2);
        int outW = s.dim(3);
        BilinearAxis rows = BilinearAxis.of(op.inH, outH, op.alignCorners);
        BilinearAxis cols = BilinearAxis.of(op.inW, outW, op.alignCorners);
        int inPlane = op.inH * op.inW;
        int outPlane = outH * outW;
        Parallel.range(s.dim(0) * s.dim(1), ShapeChecks.grain(4L * outPlane + inPlane), (lo, hi) -> {
            double[] acc = new double[inPlane];
            for (int p = lo; p < hi; p++) {
                Arrays.fill(acc, 0);
                int yb = p * outPlane;
                for (int i = 0; i < outH; i++) {
                    int r0 = rows.i0()[i] * op.inW;
                    int r1 = rows.i1()[i] * op.inW;
                    double h0 = rows.w0()[i];
                    double h1 = rows.w1()[i];
                    for (int j = 0; j < outW; j++) {
                        double g = dy.get(yb + i * outW + j);
                        int c0 = cols.i0()[j];
                        int c1 = cols.i1()[j];
                        double v0 = cols.w0()[j] * g;
                        double v1 = cols.w1()[j] * g;
                        acc[r0 + c0] += h0 * v0;
                        acc[r0 + c1] += h0 * v1;
                        acc[r1 + c0] += h1 * v0;
                        acc[r1 + c1] += h1 * v1;
                    }
                }
                int xb = p * inPlane;
                for (int k = 0; k < inPlane; k++) {
                    dx.set(xb + k, (float) acc[k]);
                }
            }
        });
    }
}
