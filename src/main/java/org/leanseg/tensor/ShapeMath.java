package org.leanseg.tensor;

/**
 * All output-size arithmetic in one place: kernels, shape inference, the planner, the cost model
 * and cuDNN descriptors call these and never repeat the formulas.
 */
public final class ShapeMath {
    private ShapeMath() {
    }

    /** Output length of a convolution along one axis (PyTorch's formula, floor division). */
    public static int convOut(int in, int kernel, int stride, int padding, int dilation) {
        int effective = dilation * (kernel - 1) + 1;
        int span = in + 2 * padding - effective;
        return span < 0 ? 0 : span / stride + 1;
    }

    /**
     * First output index {@code o} whose input index {@code o*stride + offset} is {@code >= 0}, where
     * {@code offset = k*dilation - padding} for kernel tap k. Convolution kernels use this and
     * {@link #convValidEnd} to skip the zero padding instead of testing every element.
     */
    public static int convValidStart(int offset, int stride) {
        return offset >= 0 ? 0 : (-offset + stride - 1) / stride;
    }

    /** One past the last output index {@code o < out} whose input index {@code o*stride + offset} is {@code < in}. */
    public static int convValidEnd(int in, int offset, int stride, int out) {
        int span = in - 1 - offset;
        if (span < 0) {
            return 0;
        }
        return Math.min(out, span / stride + 1);
    }

    /** Padding that keeps a stride-1 convolution's size: {@code d*(k-1)/2}. */
    public static int samePadding(int kernel, int dilation) {
        return dilation * (kernel - 1) / 2;
    }

    /** Elements of a convolution's im2col matrix for one image: (Cin/g * kh * kw) x (Hout * Wout). */
    public static long im2colElements(int cinPerGroup, int kh, int kw, int hOut, int wOut) {
        return (long) cinPerGroup * kh * kw * hOut * wOut;
    }

    /** Multiply-accumulates of a convolution forward pass. */
    public static long convMacs(int n, int cout, int cinPerGroup, int kh, int kw, int hOut, int wOut) {
        return (long) n * cout * cinPerGroup * kh * kw * hOut * wOut;
    }

    /** Channel count of MobileNetV2 and friends: round to a multiple of {@code divisor}, never below 90%. */
    public static int makeDivisible(double value, int divisor) {
        int v = Math.max(divisor, (int) (value + divisor / 2.0) / divisor * divisor);
        if (v < 0.9 * value) {
            v += divisor;
        }
        return v;
    }

    /** Source coordinate of bilinear resize for output index i (PyTorch semantics). */
    public static double bilinearSource(int i, int in, int out, boolean alignCorners) {
        if (alignCorners) {
            return out > 1 ? i * (double) (in - 1) / (out - 1) : 0.0;
        }
        double scale = (double) in / out;
        return Math.max((i + 0.5) * scale - 0.5, 0.0);
    }
}
