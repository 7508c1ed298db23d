package org.leanseg.ops.shape;

import org.leanseg.tensor.ShapeMath;

/**
 * Bilinear interpolation taps along one axis, PyTorch semantics (MODEL_SPEC.md "Bilinear"):
 * for output index i, {@code src = ShapeMath.bilinearSource(i, in, out, alignCorners)},
 * {@code i0 = floor(src)}, {@code i1 = min(i0 + 1, in - 1)}, {@code w1 = src - i0},
 * {@code w0 = 1 - w1}. Shared by {@link Resize} and {@link ResizeBackward} so both use the
 * same taps.
 */
public record BilinearAxis(int[] i0, int[] i1, double[] w0, double[] w1) {
    public static BilinearAxis of(int in, int out, boolean alignCorners) {
        int[] i0 = new int[out];
        int[] i1 = new int[out];
        double[] w0 = new double[out];
        double[] w1 = new double[out];
        for (int i = 0; i < out; i++) {
            double src = ShapeMath.bilinearSource(i, in, out, alignCorners);
            int lo = Math.min((int) Math.floor(src), in - 1);
            i0[i] = lo;
            i1[i] = Math.min(lo + 1, in - 1);
            w1[i] = src - lo;
            w0[i] = 1 - w1[i];
        }
        return new BilinearAxis(i0, i1, w0, w1);
    }
}
