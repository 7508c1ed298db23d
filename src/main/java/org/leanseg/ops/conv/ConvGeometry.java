package org.leanseg.ops.conv;

import org.leanseg.tensor.ShapeMath;

/**
 * Every size of one 2-D convolution, derived once from the attributes and the input and weight
 * shapes (output sizes from {@link ShapeMath}). Shared by the forward op, its two backward ops and
 * all their kernels, so no kernel recomputes a size by hand.
 */
record ConvGeometry(int n, int cin, int h, int w, int cout, int kh, int kw, int hOut, int wOut, Conv2d attrs, int[] taps) {
    /** Builds the geometry of {@code attrs} applied to x [n, cin, h, w] and weight [cout, cin/g, kh, kw]. */
    static ConvGeometry of(Conv2d attrs, int n, int cin, int h, int w, int cout, int kh, int kw) {
        int hOut = ShapeMath.convOut(h, kh, attrs.strideH(), attrs.padH(), attrs.dilationH());
        int wOut = ShapeMath.convOut(w, kw, attrs.strideW(), attrs.padW(), attrs.dilationW());
        ConvGeometry all = new ConvGeometry(n, cin, h, w, cout, kh, kw, hOut, wOut, attrs, null);
        return new ConvGeometry(n, cin, h, w, cout, kh, kw, hOut, wOut, attrs, all.liveTaps());
    }

    /**
     * The kernel taps {@code ky*kw + kx} that read at least one input pixel; the others only ever
     * see padding (a dilated ASPP branch on a small map), so their im2col rows are all zero and the
     * GEMM kernels leave them out. Skipping exact zeros changes no result beyond summation order.
     */
    private int[] liveTaps() {
        int[] live = new int[kh * kw];
        int count = 0;
        for (int ky = 0; ky < kh; ky++) {
            boolean rowLive = ShapeMath.convValidStart(rowOffset(ky), attrs.strideH())
                    < ShapeMath.convValidEnd(h, rowOffset(ky), attrs.strideH(), hOut);
            for (int kx = 0; kx < kw; kx++) {
                boolean colLive = ShapeMath.convValidStart(colOffset(kx), attrs.strideW())
                        < ShapeMath.convValidEnd(w, colOffset(kx), attrs.strideW(), wOut);
                if (rowLive && colLive) {
                    live[count++] = ky * kw + kx;
                }
            }
        }
        return java.util.Arrays.copyOf(live, count);
    }

    /** True when some taps only ever read padding (see {@link #taps()}). */
    boolean someTapsDead() {
        return taps.length < kh * kw;
    }

    int groups() {
        return attrs.groups();
    }

    int cinPerGroup() {
        return cin / attrs.groups();
    }

    int coutPerGroup() {
        return cout / attrs.groups();
    }

    /** Rows of one group's im2col matrix: Cin/g * live taps (the GEMM's k in forward; Cin/g * kh * kw unless taps are dead). */
    int colRows() {
        return cinPerGroup() * taps.length;
    }

    int inPlane() {
        return h * w;
    }

    int outPlane() {
        return hOut * wOut;
    }

    /** One input channel per group (MobileNetV2 / Xception depthwise, any channel multiplier). */
    boolean depthwise() {
        return attrs.groups() == cin && cinPerGroup() == 1;
    }

    /** 1x1, stride 1, no padding: the im2col matrix is the input itself. */
    boolean pointwise() {
        return kh == 1 && kw == 1 && attrs.strideH() == 1 && attrs.strideW() == 1
                && attrs.padH() == 0 && attrs.padW() == 0;
    }

    /** Input column offset of kernel tap {@code kx}: {@code iw = ow*strideW + colOffset(kx)}. */
    int colOffset(int kx) {
        return kx * attrs.dilationW() - attrs.padW();
    }

    /** Input row offset of kernel tap {@code ky}: {@code ih = oh*strideH + rowOffset(ky)}. */
    int rowOffset(int ky) {
        return ky * attrs.dilationH() - attrs.padH();
    }

    /** Multiply-accumulates of the forward pass. */
    long macs() {
        return ShapeMath.convMacs(n, cout, cinPerGroup(), kh, kw, hOut, wOut);
    }
}
