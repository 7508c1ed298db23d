package org.leanseg.ops.conv;

import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.Sgemm;

/**
 * Note [Data gradient over its input gradient]
 * A stride-1 "same" dense convolution (groups 1, Cin = Cout, output size = input size: the decoder's
 * 256 → 256 3x3 convolution, Xception's 728 → 728 pointwise ones) has a data gradient dX of
 * exactly dY's shape. When dY dies there, {@code conv2d_backward_data_inplace} writes dX over dY,
 * so the two never sit side by side (128 MiB less at the decoder's backward at MobileNetV2 b8 512²).
 * It works one image at a time, in bands of input rows, top to bottom. Input rows [h0, h1) need dY
 * rows [h0 − ((kh−1)·dh − ph), h1 + ph); rows below h0 have already been overwritten by dX, so the
 * band's dY rows come from a copy: the rows the previous band had copied (the halo), then fresh rows
 * of dY (all at or after h0, so still intact). The band's column gradient {@code W^T · dY_band} is
 * added into a band of dX in tap order (each element sums its taps in the same order whatever the band
 * size, so the result does not depend on the banding), then copied over rows [h0, h1). The result is
 * the same whether or not dX and dY share a buffer; it equals the plain kernel to float rounding (that
 * one adds a row's taps split over two bands at band edges). Scratch: two dY band copies, the column
 * band and the dX band, at most {@link ConvGemmKernels#DCOL_LIMIT_FLOATS} floats together (one row
 * band at least). Checked by {@code InPlaceBackwardDataTest}.
 */
final class BandedBackwardData {
    private BandedBackwardData() {
    }

    /** Whether the variant applies: dense, stride 1, Cin = Cout and the output the input's size. */
    static boolean applies(ConvGeometry geo) {
        return geo.groups() == 1 && geo.attrs().strideH() == 1 && geo.attrs().strideW() == 1 && geo.cin() == geo.cout()
                && geo.hOut() == geo.h() && geo.wOut() == geo.w();
    }

    /** Rows of dY beyond a band's own that it reads: (kh−1)·dh. */
    private static int halo(ConvGeometry geo) {
        return (geo.kh() - 1) * geo.attrs().dilationH();
    }

    /** Input rows per band: the most whose scratch stays under the limit, at least 1. */
    static int rowsPerBand(ConvGeometry geo) {
        return rowsPerBand(geo, ConvGemmKernels.DCOL_LIMIT_FLOATS);
    }

    private static int rowsPerBand(ConvGeometry geo, long limitFloats) {
        long perRow = (long) (geo.colRows() + 2L * geo.cout()) * geo.w();
        long fixed = perRow * halo(geo);
        long band = (limitFloats - fixed) / (perRow + (long) geo.cin() * geo.w());
        return (int) Math.max(1, Math.min(geo.h(), band));
    }

    /** Floats of scratch {@link #run} allocates. */
    static long scratchFloats(ConvGeometry geo) {
        int rows = rowsPerBand(geo);
        int span = rows + halo(geo);
        return ((long) geo.colRows() + 2L * geo.cout()) * span * geo.w() + (long) geo.cin() * rows * geo.w();
    }

    /** dX = conv2d_backward_data(dY, w); dx may be dy's own buffer. */
    static void run(ConvGeometry geo, RefView dy, RefView weight, RefView dx) {
        run(geo, dy, weight, dx, rowsPerBand(geo));
    }

    /** As {@link #run(ConvGeometry, RefView, RefView, RefView)} in bands of {@code rows} input rows (tests force small ones). */
    static void run(ConvGeometry geo, RefView dy, RefView weight, RefView dx, int rows) {
        RefView w = ConvGemmKernels.liveWeights(geo, weight);
        int span = rows + halo(geo);
        int c = geo.cout();
        int plane = geo.w();
        float[] cur = new float[c * span * plane];
        float[] prev = new float[c * span * plane];
        float[] dcol = new float[geo.colRows() * span * plane];
        float[] band = new float[geo.cin() * rows * plane];
        int maxOff = halo(geo) - geo.attrs().padH(); // largest kh·dh − ph reach above a row
        for (int n = 0; n < geo.n(); n++) {
            int image = n * c * geo.inPlane();
            int prevLo = 0;
            int prevHi = 0;
            for (int h0 = 0; h0 < geo.h(); h0 += rows) {
                int h1 = Math.min(geo.h(), h0 + rows);
                int lo = Math.max(0, h0 - maxOff);
                int hi = Math.min(geo.hOut(), h1 + geo.attrs().padH());
                int len = hi - lo;
                int keep = Math.max(lo, Math.min(prevHi, hi)); // rows [lo, keep) from the previous copy
                for (int ch = 0; ch < c; ch++) {
                    int dst = ch * len * plane;
                    if (keep > lo) {
                        System.arraycopy(prev, ch * (prevHi - prevLo) * plane + (lo - prevLo) * plane, cur, dst, (keep - lo) * plane);
                    }
                    System.arraycopy(dy.data(), dy.offset() + image + ch * geo.inPlane() + keep * plane, cur, dst + (keep - lo) * plane,
                            (hi - keep) * plane);
                }
                int cols = len * plane;
                Sgemm.run(List.of(new Sgemm.Problem(geo.colRows(), cols, c, ConvGemmKernels.weightTransposed(geo, w, 0),
                        new Sgemm.Strided(cur, 0, cols, 1), dcol, 0, cols)), false);
                addBand(geo, dcol, cols, lo, len, h0, h1, band);
                for (int ch = 0; ch < geo.cin(); ch++) {
                    System.arraycopy(band, ch * (h1 - h0) * plane, dx.data(), dx.offset() + image + ch * geo.inPlane() + h0 * plane,
                            (h1 - h0) * plane);
                }
                float[] t = prev;
                prev = cur;
                cur = t;
                prevLo = lo;
                prevHi = hi;
            }
        }
    }

    /** band[c][ih − h0][iw] = Σ over live taps, in order, of dcol's output rows [lo, lo+len) that reach ih in [h0, h1). */
    private static void addBand(ConvGeometry geo, float[] dcol, int cols, int lo, int len, int h0, int h1, float[] band) {
        int[] taps = geo.taps();
        int wOut = geo.wOut();
        int rows = h1 - h0;
        Parallel.range(geo.cin(), 1, (from, to) -> {
            for (int ch = from; ch < to; ch++) {
                int out = ch * rows * geo.w();
                Arrays.fill(band, out, out + rows * geo.w(), 0f);
                for (int t = 0; t < taps.length; t++) {
                    int ky = taps[t] / geo.kw();
                    int colOff = geo.colOffset(taps[t] % geo.kw());
                    int owLo = org.leanseg.tensor.ShapeMath.convValidStart(colOff, 1);
                    int owHi = org.leanseg.tensor.ShapeMath.convValidEnd(geo.w(), colOff, 1, wOut);
                    int src = (ch * taps.length + t) * cols;
                    for (int r = 0; r < len; r++) {
                        int ih = lo + r + geo.rowOffset(ky);
                        if (ih < h0 || ih >= h1) {
                            continue;
                        }
                        int dst = out + (ih - h0) * geo.w() + colOff;
                        int s = src + r * wOut;
                        for (int ow = owLo; ow < owHi; ow++) {
                            band[dst + ow] += dcol[s + ow];
                        }
                    }
                }
            }
        });
    }
}
