package org.leanseg.ops.conv;

import org.leanseg.backend.reference.Sgemm;

/**
 * The im2col matrix of one image and one group, never materialised: GEMM packing reads it straight
 * from the input. Row {@code r = c*T + t} for live tap {@code t} ({@link ConvGeometry#taps()}: all
 * {@code ky*kw + kx} unless some only see padding), column {@code q = oh*wOut + ow}, element
 * {@code x[c][oh*sh + ky*dh - ph][ow*sw + kx*dw - pw]} (0 in the padding), as in Caffe's im2col.
 */
final class Im2col implements Sgemm.Source {
    private final ConvGeometry geo;
    private final float[] x;
    private final int base;

    /** {@code base} is the flat index of x[n][g * Cin/g][0][0] for image n and group g. */
    Im2col(ConvGeometry geo, float[] x, int base) {
        this.geo = geo;
        this.x = x;
        this.base = base;
    }

    @Override
    public void packRows(int r0, int nr, int c0, int nc, float[][] dst, int dOff) {
        for (int r = 0; r < nr; r++) {
            packRow(r0 + r, c0, nc, dst[r], dOff);
        }
    }

    /** Writes columns {@code [c0, c0+nc)} of row {@code r} to {@code dst[dOff ..]}. */
    void packRow(int r, int c0, int nc, float[] dst, int dOff) {
        int live = geo.taps().length;
        int c = r / live;
        int tap = geo.taps()[r % live];
        int ky = tap / geo.kw();
        int kx = tap % geo.kw();
        int plane = base + c * geo.inPlane();
        int rowOff = geo.rowOffset(ky);
        int colOff = geo.colOffset(kx);
        int sh = geo.attrs().strideH();
        int sw = geo.attrs().strideW();
        int wOut = geo.wOut();
        int oh = c0 / wOut;
        int ow = c0 % wOut;
        int j = 0;
        while (j < nc) {
            int len = Math.min(wOut - ow, nc - j);
            int ih = oh * sh + rowOff;
            if (ih < 0 || ih >= geo.h()) {
                java.util.Arrays.fill(dst, dOff + j, dOff + j + len, 0f);
            } else {
                RowGather.gather(x, plane + ih * geo.w(), geo.w(), colOff, sw, dst, dOff + j, ow, len);
            }
            j += len;
            oh++;
            ow = 0;
        }
    }

    @Override
    public void packFlat(int r0, int nr, int c0, int nc, float[] dst, int dOff, int ld) {
        for (int r = 0; r < nr; r++) {
            packRow(r0 + r, c0, nc, dst, dOff + r * ld);
        }
    }
}
