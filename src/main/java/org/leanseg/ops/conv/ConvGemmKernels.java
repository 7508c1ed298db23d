package org.leanseg.ops.conv;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.backend.reference.Sgemm;
import org.leanseg.ops.elementwise.Activation;

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
    /** Output planes smaller than this many pixels are batched over images into one wider GEMM. */
    static final int BATCH_COLUMNS = 1024;

    private ConvGemmKernels() {
    }

    static void forward(ConvGeometry geo, RefView x, RefView weight, RefView bias, RefView y) {
        forward(geo, x, weight, bias, y, null);
    }

    /** {@code y = conv(act(x))}, the activation applied to each packed panel (Note [Activation into a dense convolution]); act null: none. */
    static void forward(ConvGeometry geo, RefView x, RefView weight, RefView bias, RefView y, Activation.Kind act) {
        RefView w = liveWeights(geo, weight);
        int per = imagesPerGemm(geo, 0);
        if (per > 1) {
            forwardBatched(geo, x, w, bias, y, per, act);
            return;
        }
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
                int yBase = y.offset() + (n * cout + g * m) * outPlane;
                problems.add(new Sgemm.Problem(m, outPlane, k, weights(geo, w, g), columns(geo, x, n, g, act), yd, yBase, outPlane));
            }
        }
        Sgemm.run(problems, true);
    }

    /**
     * Images whose output planes are small (deep layers, small inputs) go {@code per} at a time
     * through one GEMM with {@code per * Hout*Wout} columns, so the kernel's rows stay long enough
     * to vectorise; the result is gathered back per image. Every element sees the same additions
     * in the same order as unbatched, so the output is bit-identical.
     */
    private static void forwardBatched(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y, int per, Activation.Kind act) {
        int cout = geo.cout();
        int outPlane = geo.outPlane();
        int m = geo.coutPerGroup();
        int k = geo.colRows();
        float[] tmp = new float[geo.n() * cout * outPlane];
        List<Sgemm.Problem> problems = new ArrayList<>();
        for (int n0 = 0; n0 < geo.n(); n0 += per) {
            int count = Math.min(per, geo.n() - n0);
            int width = count * outPlane;
            int base = n0 * cout * outPlane;
            if (bias != null) {
                for (int co = 0; co < cout; co++) {
                    Arrays.fill(tmp, base + co * width, base + (co + 1) * width, bias.get(co));
                }
            }
            for (int g = 0; g < geo.groups(); g++) {
                Sgemm.Source[] parts = new Sgemm.Source[count];
                for (int i = 0; i < count; i++) {
                    parts[i] = columns(geo, x, n0 + i, g, act);
                }
                problems.add(new Sgemm.Problem(m, width, k, weights(geo, w, g), new Sgemm.Columns(parts, outPlane), tmp,
                        base + g * m * width, width));
            }
        }
        Sgemm.run(problems, bias != null);
        scatter(tmp, geo.n(), cout, outPlane, per, y.data(), y.offset());
    }

    /** Floats of the gather buffer {@link #forward} allocates when it batches images (0 otherwise). */
    static int forwardScratchFloats(ConvGeometry geo) {
        return geo.depthwise() || imagesPerGemm(geo, 0) == 1 ? 0 : geo.n() * geo.cout() * geo.outPlane();
    }

    /** Copies chunked rows {@code [chunk][channel][image in chunk][plane]} to {@code [image][channel][plane]}. */
    private static void scatter(float[] tmp, int n, int channels, int plane, int per, float[] dst, int dOff) {
        Parallel.range(n * channels, 16, (lo, hi) -> {
            for (int p = lo; p < hi; p++) {
                int img = p / channels;
                int c = p % channels;
                int n0 = img / per * per;
                int count = Math.min(per, n - n0);
                int src = n0 * channels * plane + c * count * plane + (img - n0) * plane;
                System.arraycopy(tmp, src, dst, dOff + p * plane, plane);
            }
        });
    }

    /**
     * Images per GEMM: enough for about {@link #BATCH_COLUMNS} columns when output planes are
     * smaller than that, 1 otherwise; with {@code rowsPerColumn > 0}, also few enough that a
     * column buffer of {@code rowsPerColumn} rows stays under {@link #DCOL_LIMIT_FLOATS}.
     */
    static int imagesPerGemm(ConvGeometry geo, long rowsPerColumn) {
        int plane = geo.outPlane();
        if (plane >= BATCH_COLUMNS || geo.n() == 1) {
            return 1;
        }
        int per = Math.min(geo.n(), BATCH_COLUMNS / plane);
        if (rowsPerColumn > 0) {
            per = (int) Math.min(per, DCOL_LIMIT_FLOATS / (rowsPerColumn * plane));
        }
        return Math.max(1, per);
    }

    /**
     * B = im2col(act(x[n, group g])) [K x Hout*Wout] (x itself for 1x1 stride-1 convolutions); with
     * act null, no activation. act(0) = 0, so padding packed as 0 stays right.
     */
    private static Sgemm.Source columns(ConvGeometry geo, RefView x, int n, int g, Activation.Kind act) {
        int xBase = x.offset() + (n * geo.cin() + g * geo.cinPerGroup()) * geo.inPlane();
        Sgemm.Source cols = geo.pointwise() ? new Sgemm.Strided(x.data(), xBase, geo.outPlane(), 1) : new Im2col(geo, x.data(), xBase);
        return act == null ? cols : new Activated(cols, act.cap());
    }

    /** A source whose packed panels are clamped to [0, cap] as they are written (ReLU: cap = +inf). */
    private record Activated(Sgemm.Source source, float cap) implements Sgemm.Source {
        @Override
        public void packRows(int r0, int nr, int c0, int nc, float[][] dst, int dOff) {
            source.packRows(r0, nr, c0, nc, dst, dOff);
            for (int r = 0; r < nr; r++) {
                clamp(dst[r], dOff, nc);
            }
        }

        @Override
        public void packFlat(int r0, int nr, int c0, int nc, float[] dst, int dOff, int ld) {
            source.packFlat(r0, nr, c0, nc, dst, dOff, ld);
            for (int r = 0; r < nr; r++) {
                clamp(dst, dOff + r * ld, nc);
            }
        }

        private void clamp(float[] d, int from, int count) {
            for (int i = from; i < from + count; i++) {
                d[i] = Math.min(Math.max(d[i], 0f), cap);   // Activation.Kind.apply
            }
        }
    }

    /** A = W[g] [M x K], of the live-tap weight {@link #liveWeights}. */
    private static Sgemm.Strided weights(ConvGeometry geo, RefView w, int g) {
        int k = geo.colRows();
        return new Sgemm.Strided(w.data(), w.offset() + g * geo.coutPerGroup() * k, k, 1);
    }

    /**
     * The weight with the columns of dead taps left out, [Cout x Cin/g*live taps] (the weight
     * itself when every tap is live).
     */
    static RefView liveWeights(ConvGeometry geo, RefView w) {
        if (!geo.someTapsDead()) {
            return w;
        }
        int all = geo.kh() * geo.kw();
        int[] taps = geo.taps();
        int k = geo.colRows();
        float[] out = new float[geo.cout() * k];
        for (int row = 0; row < geo.cout() * geo.cinPerGroup(); row++) {
            for (int t = 0; t < taps.length; t++) {
                out[row * taps.length + t] = w.get(row * all + taps[t]);
            }
        }
        return new RefView(out, 0, w.spec());
    }

    static void backwardData(ConvGeometry geo, RefView dy, RefView weight, RefView dx) {
        RefView w = liveWeights(geo, weight);
        int m = geo.coutPerGroup();
        int k = geo.colRows();
        int outPlane = geo.outPlane();
        if (geo.pointwise()) {
            int per = imagesPerGemm(geo, 0);
            float[] target = per > 1 ? new float[geo.n() * geo.cin() * outPlane] : dx.data();
            List<Sgemm.Problem> problems = new ArrayList<>();
            for (int n0 = 0; n0 < geo.n(); n0 += per) {
                int count = Math.min(per, geo.n() - n0);
                int width = count * outPlane;
                for (int g = 0; g < geo.groups(); g++) {
                    int at = per > 1 ? n0 * geo.cin() * outPlane + g * k * width
                            : dx.offset() + (n0 * geo.cin() + g * k) * geo.inPlane();
                    problems.add(new Sgemm.Problem(k, width, m, weightTransposed(geo, w, g), gradBlocks(geo, dy, n0, count, g),
                            target, at, width));
                }
            }
            Sgemm.run(problems, false);
            if (per > 1) {
                scatter(target, geo.n(), geo.cin(), outPlane, per, dx.data(), dx.offset());
            }
            return;
        }
        int per = imagesPerGemm(geo, (long) geo.groups() * k);
        if (per > 1) {
            float[] dcol = new float[geo.groups() * k * per * outPlane];
            for (int n0 = 0; n0 < geo.n(); n0 += per) {
                int count = Math.min(per, geo.n() - n0);
                int width = count * outPlane;
                List<Sgemm.Problem> problems = new ArrayList<>();
                for (int g = 0; g < geo.groups(); g++) {
                    problems.add(new Sgemm.Problem(k, width, m, weightTransposed(geo, w, g), gradBlocks(geo, dy, n0, count, g),
                            dcol, g * k * width, width));
                }
                Sgemm.run(problems, false);
                for (int i = 0; i < count; i++) {
                    int dxImage = dx.offset() + (n0 + i) * geo.cin() * geo.inPlane();
                    Arrays.fill(dx.data(), dxImage, dxImage + geo.cin() * geo.inPlane(), 0f);
                    col2im(geo, dcol, width, i * outPlane, 0, geo.hOut(), dx.data(), dxImage);
                }
            }
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
                col2im(geo, dcol, cols, 0, oh0, rows, dx.data(), dxImage);
            }
        }
    }

    /** dY of images {@code [n0, n0+count)}, group g, side by side: [M x count*Hout*Wout]. */
    private static Sgemm.Source gradBlocks(ConvGeometry geo, RefView dy, int n0, int count, int g) {
        if (count == 1) {
            return gradBlock(geo, dy, n0, g, 0);
        }
        Sgemm.Source[] parts = new Sgemm.Source[count];
        for (int i = 0; i < count; i++) {
            parts[i] = gradBlock(geo, dy, n0 + i, g, 0);
        }
        return new Sgemm.Columns(parts, geo.outPlane());
    }

    /** Output rows per band of the backward-data column buffer. */
    private static int rowsPerBand(ConvGeometry geo) {
        return Math.max(1, Math.min(geo.hOut(), DCOL_LIMIT_FLOATS / (geo.groups() * geo.colRows() * geo.wOut())));
    }

    /** Floats of the column (or, for batched 1x1 stride-1 convolutions, gather) buffer {@link #backwardData} allocates. */
    static int backwardDataScratchFloats(ConvGeometry geo) {
        if (geo.depthwise()) {
            return 0;
        }
        if (geo.pointwise()) {
            return imagesPerGemm(geo, 0) > 1 ? geo.n() * geo.cin() * geo.outPlane() : 0;
        }
        int per = imagesPerGemm(geo, (long) geo.groups() * geo.colRows());
        return per > 1 ? geo.groups() * geo.colRows() * per * geo.outPlane() : geo.groups() * geo.colRows() * rowsPerBand(geo) * geo.wOut();
    }

    /** A = W[g]^T as a [K x M] view of the live-tap weight {@link #liveWeights}. */
    static Sgemm.Strided weightTransposed(ConvGeometry geo, RefView w, int g) {
        int k = geo.colRows();
        return new Sgemm.Strided(w.data(), w.offset() + g * geo.coutPerGroup() * k, 1, k);
    }

    /** B = dY[n, group g] as [M x N] starting at output position {@code from}. */
    private static Sgemm.Strided gradBlock(ConvGeometry geo, RefView dy, int n, int g, int from) {
        int outPlane = geo.outPlane();
        return new Sgemm.Strided(dy.data(), dy.offset() + (n * geo.cout() + g * geo.coutPerGroup()) * outPlane + from, outPlane, 1);
    }

    /**
     * Adds a band of the column gradient (output rows [oh0, oh0+rows)) into one image's dX; the
     * image's columns start at {@code colBase} of each dcol row of length {@code cols}.
     */
    private static void col2im(ConvGeometry geo, float[] dcol, int cols, int colBase, int oh0, int rows, float[] dx, int dxImage) {
        int[] taps = geo.taps();
        int sh = geo.attrs().strideH();
        int sw = geo.attrs().strideW();
        int wOut = geo.wOut();
        Parallel.range(geo.cin(), 1, (lo, hi) -> {
            for (int c = lo; c < hi; c++) {
                int g = c / geo.cinPerGroup();
                int rowBase = (g * geo.colRows() + (c % geo.cinPerGroup()) * taps.length) * cols;
                int plane = dxImage + c * geo.inPlane();
                for (int t = 0; t < taps.length; t++) {
                    int ky = taps[t] / geo.kw();
                    int kx = taps[t] % geo.kw();
                    {
                        int src = rowBase + t * cols + colBase;
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
        backwardFilter(geo, x, dy, dw, null);
    }

    /** dW of {@code y = conv(act(x))}: the activation applied to each packed im2col panel; act null: none. */
    static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw, Activation.Kind act) {
        int m = geo.coutPerGroup();
        int k = geo.colRows();
        int outPlane = geo.outPlane();
        float[] dwT = new float[geo.groups() * k * m];
        int per = imagesPerGemm(geo, 0);
        for (int n0 = 0; n0 < geo.n(); n0 += per) {
            int count = Math.min(per, geo.n() - n0);
            List<Sgemm.Problem> problems = new ArrayList<>();
            for (int g = 0; g < geo.groups(); g++) {
                Sgemm.Source[] cols = new Sgemm.Source[count];
                Sgemm.Source[] dyT = new Sgemm.Source[count];
                for (int i = 0; i < count; i++) {
                    cols[i] = columns(geo, x, n0 + i, g, act);
                    dyT[i] = new Sgemm.Strided(dy.data(), dy.offset() + ((n0 + i) * geo.cout() + g * m) * outPlane, 1, outPlane);
                }
                Sgemm.Source a = count == 1 ? cols[0] : new Sgemm.Columns(cols, outPlane);
                Sgemm.Source b = count == 1 ? dyT[0] : new Sgemm.Rows(dyT, outPlane);
                problems.add(new Sgemm.Problem(k, m, count * outPlane, a, b, dwT, g * k * m, m));
            }
            Sgemm.run(problems, n0 > 0);
        }
        Parallel.range(geo.cout(), 1, (lo, hi) -> {
            for (int co = lo; co < hi; co++) {
                int g = co / m;
                int src = g * k * m + co % m;
                if (!geo.someTapsDead()) {
                    int dst = dw.offset() + co * k;
                    for (int r = 0; r < k; r++) {
                        dw.data()[dst + r] = dwT[src + r * m];
                    }
                    continue;
                }
                // dead taps never saw an input pixel: their gradient is exactly 0
                int all = geo.kh() * geo.kw();
                int[] taps = geo.taps();
                int dst = dw.offset() + co * geo.cinPerGroup() * all;
                Arrays.fill(dw.data(), dst, dst + geo.cinPerGroup() * all, 0f);
                for (int r = 0; r < k; r++) {
                    dw.data()[dst + (r / taps.length) * all + taps[r % taps.length]] = dwT[src + r * m];
                }
            }
        });
    }
}
