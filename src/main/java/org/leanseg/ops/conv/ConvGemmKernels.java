package org.leanseg.ops.conv;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.Sgemm;

/**
 * General convolution kernels on {@link Sgemm} (per image n and group g, M = Cout/g,
 * K = Cin/g*kh*kw, N = Hout*Wout):
 * <ul>
 *   <li>forward: {@code Y[n,g] = W[g] * im2col(x[n,g])}, im2col packed on the fly (no workspace);</li>
 *   <li>backward data: {@code dcol = W[g]^T * dY[n,g]} for a band of output rows, then col2im
 *       (parallel over input channels, so no two threads add into one element);</li>
 *   <li>backward filter: {@code dW[g]^T += im2col(x[n,g]) * dY[n,g]^T}, images in order.</li>
 * </ul>
 * 1x1 stride-1 convolutions use x and dX directly as the im2col matrix. All results are independent
 * of the thread count. Checked by {@code Conv2dTest}.
 */
final class ConvGemmKernels {
    /** Upper bound of the backward-data column buffer (floats); bands of output rows keep under it. */
    static final int DCOL_LIMIT_FLOATS = 1 << 22;

    private ConvGemmKernels() {
    }

    static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y) {
        int cout = geo.cout();
        int outPlane = geo.outPlane();
        float[] yd = y.data();
        Parallel.range(geo.n() * cout, 16, (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                float v = bias == null ? 0f : bias.get(p % cout);
                int o = y.offset() + p * outPlane;
                Arrays.fill(yd, o, o + outPlane, v);
            }
        });
        int m = geo.coutPerGroup();
        int k = geo.colRows();
        List<Sgemm.Problem> problems = new ArrayList<>();
        for (int n = 0; n < geo.n(); n++) {
            for (int g = 0; g < geo.groups(); g++) {
                int xBase = x.offset() + (n * geo.cin() + g * geo.cinPerGroup()) * geo.inPlane();
                Sgemm.Source col = geo.pointwise()
                        ? new Sgemm.Strided(x.data(), xBase, outPlane, 1)
                        : new Im2col(geo, x.data(), xBase);
                Sgemm.Strided a = new Sgemm.Strided(w.data(), w.offset() + g * m * k, k, 1);
                int yBase = y.offset() + (n * cout + g * m) * outPlane;
                problems.add(new Sgemm.Problem(m, outPlane, k, a, col, yd, yBase, outPlane));
            }
        }
        Sgemm.run(problems, true);
    }

    static void backwardData(ConvGeometry geo, RefView dy, RefView w, RefView dx) {
        int m = geo.coutPerGroup();
        int k = geo.colRows();
        int outPlane = geo.outPlane();
        if (geo.pointwise()) {
            List<Sgemm.Problem> problems = new ArrayList<>();
            for (int n = 0; n < geo.n(); n++) {
                for (int g = 0; g < geo.groups(); g++) {
                    problems.add(new Sgemm.Problem(k, outPlane, m, weightTransposed(geo, w, g), gradBlock(geo, dy, n, g, 0),
                            dx.data(), dx.offset() + (n * geo.cin() + g * k) * geo.inPlane(), geo.inPlane()));
                }
            }
            Sgemm.run(problems, false);
            return;
        }
        int rowsPerBand = rowsPerBand(geo);
        float[] dcol = new float[backwardDataScratchFloats(geo)];
        for (int n = 0; n < geo.n(); n++) {
            int dxImage = dx.offset() + n * geo.cin() * geo.inPlane();
            Arrays.fill(dx.data(), dxImage, dxImage + geo.cin() * geo.inPlane(), 0f);
            for (int oh0 = 0; oh0 < geo.hOut(); oh0 += rowsPerBand) {
                int rows = Math.min(rowsPerBand, geo.hOut() - oh0);
                int cols = rows * geo.wOut();
                List<Sgemm.Problem> problems = new ArrayList<>();
                for (int g = 0; g < geo.groups(); g++) {
                    problems.add(new Sgemm.Problem(k, cols, m, weightTransposed(geo, w, g),
                            gradBlock(geo, dy, n, g, oh0 * geo.wOut()), dcol, g * k * cols, cols));
                }
                Sgemm.run(problems, false);
                col2im(geo, dcol, cols, oh0, rows, dx.data(), dxImage);
            }
        }
    }

    /** Output rows per band of the backward-data column buffer. */
    private static int rowsPerBand(ConvGeometry geo) {
        return Math.max(1, Math.min(geo.hOut(), DCOL_LIMIT_FLOATS / (geo.groups() * geo.colRows() * geo.wOut())));
    }

    /** Floats of the column buffer {@link #backwardData} allocates (0 for 1x1 stride-1 convolutions). */
    static int backwardDataScratchFloats(ConvGeometry geo) {
        return geo.pointwise() || geo.depthwise() ? 0 : geo.groups() * geo.colRows() * rowsPerBand(geo) * geo.wOut();
    }

    /** A = W[g]^T as a [K x M] view of the weight. */
    private static Sgemm.Strided weightTransposed(ConvGeometry geo, RefView w, int g) {
        int k = geo.colRows();
        return new Sgemm.Strided(w.data(), w.offset() + g * geo.coutPerGroup() * k, 1, k);
    }

    /** B = dY[n, group g] as [M x N] starting at output position {@code from}. */
    private static Sgemm.Strided gradBlock(ConvGeometry geo, RefView dy, int n, int g, int from) {
        int outPlane = geo.outPlane();
        return new Sgemm.Strided(dy.data(), dy.offset() + (n * geo.cout() + g * geo.coutPerGroup()) * outPlane + from, outPlane, 1);
    }

    /** Adds a band of the column gradient (output rows [oh0, oh0+rows)) into one image's dX. */
    private static void col2im(ConvGeometry geo, float[] dcol, int cols, int oh0, int rows, float[] dx, int dxImage) {
        int taps = geo.kh() * geo.kw();
        int sh = geo.attrs().strideH();
        int sw = geo.attrs().strideW();
        int wOut = geo.wOut();
        Parallel.range(geo.cin(), 1, (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                int g = c / geo.cinPerGroup();
                int rowBase = (g * geo.colRows() + (c % geo.cinPerGroup()) * taps) * cols;
                int plane = dxImage + c * geo.inPlane();
                for (int ky = 0; ky < geo.kh(); ky++) {
                    for (int kx = 0; kx < geo.kw(); kx++) {
                        int src = rowBase + (ky * geo.kw() + kx) * cols;
                        int colOff = geo.colOffset(kx);
                        int owLo = org.leanseg.tensor.ShapeMath.convValidStart(colOff, sw);
                        int owHi = org.leanseg.tensor.ShapeMath.convValidEnd(geo.w(), colOff, sw, wOut);
                        for (int r = 0; r < rows; r++) {
                            int ih = (oh0 + r) * sh + geo.rowOffset(ky);
                            if (ih < 0 || ih >= geo.h()) {
                                continue;
                            }
                            int dst = plane + ih * geo.w() + colOff;
                            int s = src + r * wOut;
                            for (int ow = owLo; ow < owHi; ow++) {
                                dx[dst + ow * sw] += dcol[s + ow];
                            }
                        }
                    }
                }
            }
        });
    }

    /**
     * dW[g]^T [K x M] += im2col(x[n,g]) [K x N] * dY[n,g]^T [N x M], images in order, into a
     * transposed buffer that is then copied into dW. This way im2col is the A side, packed row by
     * row with plain copies, and only M columns of dY are gathered per panel.
     */
    static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw) {
        int m = geo.coutPerGroup();
        int k = geo.colRows();
        int outPlane = geo.outPlane();
        float[] dwT = new float[geo.groups() * k * m];
        for (int n = 0; n < geo.n(); n++) {
            List<Sgemm.Problem> problems = new ArrayList<>();
            for (int g = 0; g < geo.groups(); g++) {
                int xBase = x.offset() + (n * geo.cin() + g * geo.cinPerGroup()) * geo.inPlane();
                Sgemm.Source col = geo.pointwise()
                        ? new Sgemm.Strided(x.data(), xBase, outPlane, 1)
                        : new Im2col(geo, x.data(), xBase);
                Sgemm.Strided dyT = new Sgemm.Strided(dy.data(),
                        dy.offset() + (n * geo.cout() + g * m) * outPlane, 1, outPlane);
                problems.add(new Sgemm.Problem(k, m, outPlane, col, dyT, dwT, g * k * m, m));
            }
            Sgemm.run(problems, n > 0);
        }
        Parallel.range(geo.cout(), 1, (lo, hi) -> {
            for (int co = lo; co < hi; co++) {
                int g = co / m;
                int src = g * k * m + co % m;
                int dst = dw.offset() + co * k;
                for (int r = 0; r < k; r++) {
                    dw.data()[dst + r] = dwT[src + r * m];
                }
            }
        });
    }
}
