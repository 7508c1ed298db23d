package org.leanseg.ops.conv;

import java.util.Arrays;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.elementwise.Activation;
import org.leanseg.tensor.ShapeMath;

/**
 * Direct depthwise convolution (groups == Cin; output channel co reads input channel
 * co / (Cout/Cin)), the 3x3 workhorse of MobileNetV2 and Xception.
 *
 * <p>Note [Depthwise phase planes]: the zero-padded input plane is split into strideH x strideW
 * phase planes of width {@code wq = ceil(paddedW / strideW)}, so that every kernel tap becomes one
 * contiguous shift of one phase plane: {@code yq[i] += w * phase[shift + i]} for the whole plane at
 * once, with the output laid out at width {@code wq} (columns past {@code wOut} are scratch). Each
 * tap is one long copy plus one vectorisable multiply-add over zero-offset arrays (see
 * {@code Sgemm} for why offsets matter to HotSpot), instead of a short loop per output row.
 * Backward data runs the same map in reverse into phase-plane gradients; backward filter multiplies
 * dY (zero in the scratch columns) with each shifted phase plane and reduces in double.
 *
 * <p>Planes run in parallel; results do not depend on the thread count. Checked by {@code Conv2dTest}.
 */
final class DepthwiseKernels {
    /**
     * Output planes of at most this many pixels (deep layers of small inputs: 2x2, 4x4) run
     * {@link SmallPlanes}' direct loops: there the phase planes' per-plane setup costs more than
     * the arithmetic.
     */
    static final int SMALL_PLANE = 16;

    private DepthwiseKernels() {
    }

    /** Phase-plane layout of one input plane for a geometry. */
    private record Layout(ConvGeometry geo, int sh, int sw, int hq, int wq, int planeLen) {
        static Layout of(ConvGeometry geo) {
            int sh = geo.attrs().strideH();
            int sw = geo.attrs().strideW();
            int hq = (geo.h() + 2 * geo.attrs().padH() + sh - 1) / sh;
            int wq = (geo.w() + 2 * geo.attrs().padW() + sw - 1) / sw;
            // + wq: a tap's shift plus hOut*wq stays below hq*wq + wq (the kernel fits the padded input)
            return new Layout(geo, sh, sw, hq, wq, hq * wq + wq);
        }

        int outLen() {
            return geo.hOut() * wq;
        }

        /** Start of tap (ky, kx)'s phase plane plus its shift, in the phases buffer. */
        int tapStart(int ky, int kx) {
            int a = ky * geo.attrs().dilationH();
            int b = kx * geo.attrs().dilationW();
            return ((a % sh) * sw + b % sw) * planeLen + (a / sh) * wq + b / sw;
        }

        /** Phase-plane index of padded position (py, px). */
        int phaseIndex(int py, int px) {
            return ((py % sh) * sw + px % sw) * planeLen + (py / sh) * wq + px / sw;
        }
    }

    /** Per-thread buffers. */
    private static final class Buffers {
        float[] phases = new float[0];
        float[] acc = new float[0];
        float[] tmp = new float[0];

        Buffers fit(Layout l) {
            int all = l.sh() * l.sw() * l.planeLen();
            if (phases.length < all) {
                phases = new float[all];
            }
            if (acc.length < l.planeLen()) {
                acc = new float[l.planeLen()];
                tmp = new float[l.planeLen()];
            }
            return this;
        }
    }

    private static final ThreadLocal<Buffers> BUFFERS = ThreadLocal.withInitial(Buffers::new);

    /**
     * Writes the zero-padded input plane at {@code src} into its phase planes, with act applied to
     * every input value when {@code act} is not null (the fused ReLU·depthwise conv; act(0) = 0
     * keeps the zero padding).
     */
    private static void split(Layout l, float[] src, int plane, float[] phases, Activation.Kind act) {
        ConvGeometry geo = l.geo();
        Arrays.fill(phases, 0, l.sh() * l.sw() * l.planeLen(), 0f);
        int ph = geo.attrs().padH();
        int pw = geo.attrs().padW();
        for (int ih = 0; ih < geo.h(); ih++) {
            int row = plane + ih * geo.w();
            if (l.sw() == 1) {
                int at = l.phaseIndex(ih + ph, pw);
                if (act == null) {
                    System.arraycopy(src, row, phases, at, geo.w());
                } else {
                    clampRow(src, row, phases, at, geo.w(), act.cap());
                }
                continue;
            }
            for (int iw = 0; iw < geo.w(); iw++) {
                phases[l.phaseIndex(ih + ph, iw + pw)] = act == null ? src[row + iw] : act.apply(src[row + iw]);
            }
        }
    }

    /** {@code dst[at + i] = act(src[from + i])} over one row ({@link Activation.Kind#apply} with {@code cap}). */
    private static void clampRow(float[] src, int from, float[] dst, int at, int n, float cap) {
        for (int i = 0; i < n; i++) {
            float v = src[from + i];
            dst[at + i] = Math.min(Math.max(v, 0f), cap);
        }
    }

    static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y) {
        forward(geo, x, w, bias, y, null);
    }

    /** As above on act(x) when {@code act} is not null. */
    static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y, Activation.Kind act) {
        if (geo.outPlane() <= SMALL_PLANE) {
            SmallPlanes.forward(geo, x, w, bias, y, act);
            return;
        }
        Layout l = Layout.of(geo);
        int mult = geo.coutPerGroup();
        int taps = geo.kh() * geo.kw();
        int len = l.outLen();
        Parallel.range(geo.n() * geo.cin(), 1, (lo, hi) -> {
            Buffers buf = BUFFERS.get().fit(l);
            for (int p = lo; p < hi; p++) {
                split(l, x.data(), x.offset() + p * geo.inPlane(), buf.phases, act);
                for (int j = 0; j < mult; j++) {
                    int co = (p % geo.cin()) * mult + j;
                    Arrays.fill(buf.acc, 0, len, bias == null ? 0f : bias.get(co));
                    for (int ky = 0; ky < geo.kh(); ky++) {
                        for (int kx = 0; kx < geo.kw(); kx++) {
                            System.arraycopy(buf.phases, l.tapStart(ky, kx), buf.tmp, 0, len);
                            axpy(len, w.get(co * taps + ky * geo.kw() + kx), buf.tmp, buf.acc);
                        }
                    }
                    int out = y.offset() + ((p / geo.cin()) * geo.cout() + co) * geo.outPlane();
                    for (int oh = 0; oh < geo.hOut(); oh++) {
                        System.arraycopy(buf.acc, oh * l.wq(), y.data(), out + oh * geo.wOut(), geo.wOut());
                    }
                }
            }
        });
    }

    /** dY plane of output channel co laid out at width wq, zero in the scratch columns. */
    private static void gradRows(Layout l, RefView dy, int n, int co, float[] dst) {
        ConvGeometry geo = l.geo();
        Arrays.fill(dst, 0, l.planeLen(), 0f);
        int src = dy.offset() + (n * geo.cout() + co) * geo.outPlane();
        for (int oh = 0; oh < geo.hOut(); oh++) {
            System.arraycopy(dy.data(), src + oh * geo.wOut(), dst, oh * l.wq(), geo.wOut());
        }
    }

    static void backwardData(ConvGeometry geo, RefView dy, RefView w, RefView dx) {
        if (geo.outPlane() <= SMALL_PLANE) {
            SmallPlanes.backwardData(geo, dy, w, dx);
            return;
        }
        Layout l = Layout.of(geo);
        int mult = geo.coutPerGroup();
        int taps = geo.kh() * geo.kw();
        int len = l.outLen();
        int phaseCount = l.sh() * l.sw();
        Parallel.range(geo.n() * geo.cin(), 1, (lo, hi) -> {
            Buffers buf = BUFFERS.get().fit(l);
            float[] grads = buf.phases;
            for (int p = lo; p < hi; p++) {
                Arrays.fill(grads, 0, phaseCount * l.planeLen(), 0f);
                for (int j = 0; j < mult; j++) {
                    int co = (p % geo.cin()) * mult + j;
                    gradRows(l, dy, p / geo.cin(), co, buf.acc);
                    for (int ky = 0; ky < geo.kh(); ky++) {
                        for (int kx = 0; kx < geo.kw(); kx++) {
                            int start = l.tapStart(ky, kx);
                            int plane = start / l.planeLen() * l.planeLen();
                            int shift = start - plane;
                            // tmp[m] = dyq[m - shift]: the tap's contribution aligned with its phase plane
                            Arrays.fill(buf.tmp, 0, shift, 0f);
                            System.arraycopy(buf.acc, 0, buf.tmp, shift, len);
                            Arrays.fill(buf.tmp, shift + len, l.planeLen(), 0f);
                            axpyInto(l.planeLen(), w.get(co * taps + ky * geo.kw() + kx), buf.tmp, grads, plane);
                        }
                    }
                }
                merge(l, grads, dx.data(), dx.offset() + p * geo.inPlane());
            }
        });
    }

    /** The inverse of {@link #split}: reads the non-padding positions of the phase planes into a plane. */
    private static void merge(Layout l, float[] phases, float[] dst, int plane) {
        ConvGeometry geo = l.geo();
        int ph = geo.attrs().padH();
        int pw = geo.attrs().padW();
        for (int ih = 0; ih < geo.h(); ih++) {
            int row = plane + ih * geo.w();
            if (l.sw() == 1) {
                System.arraycopy(phases, l.phaseIndex(ih + ph, pw), dst, row, geo.w());
                continue;
            }
            for (int iw = 0; iw < geo.w(); iw++) {
                dst[row + iw] = phases[l.phaseIndex(ih + ph, iw + pw)];
            }
        }
    }

    static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw) {
        backwardFilter(geo, x, dy, dw, null);
    }

    /** As above with x replaced by act(x) when {@code act} is not null. */
    static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw, Activation.Kind act) {
        if (geo.outPlane() <= SMALL_PLANE) {
            SmallPlanes.backwardFilter(geo, x, dy, dw, act);
            return;
        }
        Layout l = Layout.of(geo);
        int mult = geo.coutPerGroup();
        int taps = geo.kh() * geo.kw();
        int len = l.outLen();
        Parallel.range(geo.cout(), 1, (lo, hi) -> {
            Buffers buf = BUFFERS.get().fit(l);
            float[][] sums = new float[taps][len];
            for (int co = lo; co < hi; co++) {
                for (float[] s : sums) {
                    Arrays.fill(s, 0f);
                }
                for (int n = 0; n < geo.n(); n++) {
                    split(l, x.data(), x.offset() + (n * geo.cin() + co / mult) * geo.inPlane(), buf.phases, act);
                    gradRows(l, dy, n, co, buf.acc);
                    for (int t = 0; t < taps; t++) {
                        System.arraycopy(buf.phases, l.tapStart(t / geo.kw(), t % geo.kw()), buf.tmp, 0, len);
                        multiplyAdd(len, buf.acc, buf.tmp, sums[t]);
                    }
                }
                for (int t = 0; t < taps; t++) {
                    double s = 0;
                    for (float v : sums[t]) {
                        s += v;
                    }
                    dw.set(co * taps + t, (float) s);
                }
            }
        });
    }

    private static void axpy(int n, float a, float[] b, float[] t) {
        for (int j = 0; j < n; j++) {
            t[j] += a * b[j];
        }
    }

    /** {@code t[off + j] += a * b[j]}; {@code off} is a phase-plane start (kept separate from the hot loop's index when 0). */
    private static void axpyInto(int n, float a, float[] b, float[] t, int off) {
        if (off == 0) {
            axpy(n, a, b, t);
            return;
        }
        for (int j = 0; j < n; j++) {
            t[off + j] += a * b[j];
        }
    }

    private static void multiplyAdd(int n, float[] a, float[] b, float[] t) {
        for (int j = 0; j < n; j++) {
            t[j] += a[j] * b[j];
        }
    }

    /**
     * Direct loops for small output planes (2x2, 4x4: the deep layers of small inputs), with the
     * channel as the innermost loop. A geometry's (tap, output pixel, input pixel) triples whose
     * input lies inside the image are listed once ({@link Pairs}, in tap then output order); each
     * triple then runs one loop over a block of channels, {@code y[c, o] += w[c, t] * x[c, i]}.
     * Looping over pixels and taps inside each channel instead ran loops of 1-4 iterations whose
     * setup and mispredicted exits cost about 10x the arithmetic.
     *
     * <p>Every output adds its in-bounds taps in (ky, kx) order after the bias, which is what the
     * phase-plane kernels add too (their padding taps add exact zeros); backward data adds into
     * each input pixel in (channel multiplier, tap, output pixel) order; backward filter sums in
     * double, per image over the output pixels, then over images in order. So results do not depend
     * on the channel blocks or the thread count.
     */
    private static final class SmallPlanes {
        /** Multiply-adds per parallel task, about: below it a task costs more to hand out than to run. */
        private static final int TASK_WORK = 1 << 13;

        /**
         * In-bounds (tap, output, input) triples in tap order, then output order: tap t's triples
         * are {@code [first[t], first[t+1])} with output pixel {@code out[k]} and input pixel {@code in[k]}.
         */
        private record Pairs(int[] first, int[] out, int[] in) {
            static Pairs of(ConvGeometry geo) {
                int taps = geo.kh() * geo.kw();
                int sh = geo.attrs().strideH();
                int sw = geo.attrs().strideW();
                int[] first = new int[taps + 1];
                int[] out = new int[taps * geo.outPlane()];
                int[] in = new int[taps * geo.outPlane()];
                int k = 0;
                for (int ky = 0; ky < geo.kh(); ky++) {
                    for (int kx = 0; kx < geo.kw(); kx++) {
                        int t = ky * geo.kw() + kx;
                        first[t] = k;
                        int ohLo = ShapeMath.convValidStart(geo.rowOffset(ky), sh);
                        int ohHi = ShapeMath.convValidEnd(geo.h(), geo.rowOffset(ky), sh, geo.hOut());
                        int owLo = ShapeMath.convValidStart(geo.colOffset(kx), sw);
                        int owHi = ShapeMath.convValidEnd(geo.w(), geo.colOffset(kx), sw, geo.wOut());
                        for (int oh = ohLo; oh < ohHi; oh++) {
                            for (int ow = owLo; ow < owHi; ow++) {
                                out[k] = oh * geo.wOut() + ow;
                                in[k] = (oh * sh + geo.rowOffset(ky)) * geo.w() + ow * sw + geo.colOffset(kx);
                                k++;
                            }
                        }
                    }
                }
                first[taps] = k;
                return new Pairs(first, out, in);
            }
        }

        /**
         * How a kernel splits its channels: {@code blocks} blocks of {@code cb} input channels (the
         * last may be shorter), handed out per block and, when {@code parallelOver} is the batch,
         * per image too.
         */
        private record Tiling(int mult, int taps, Pairs pairs, int cb, int blocks, float[][][] wt) {
            /** With {@code w} (else null) transposed per block: {@code wt[b][j*taps + t][c]}, see {@link #transposed}. */
            static Tiling of(ConvGeometry geo, int parallelOver, RefView w) {
                Pairs pr = Pairs.of(geo);
                // enough blocks for the threads, each with enough work
                int perChannel = Math.max(1, pr.out.length * geo.coutPerGroup() * (parallelOver == 1 ? geo.n() : 1));
                int byWork = Math.max(1, TASK_WORK / perChannel);
                int byThreads = Math.max(1, geo.cin() * parallelOver / (4 * Parallel.threads()));
                int cb = Math.min(geo.cin(), Math.max(byWork, Math.min(byThreads, geo.cin())));
                return new Tiling(geo.coutPerGroup(), geo.kh() * geo.kw(), pr, cb, (geo.cin() + cb - 1) / cb,
                        w == null ? null : transposed(geo, w, cb));
            }
        }

        /**
         * The weights by channel block, channel innermost: {@code wt[b][j*taps + t][c]} is tap t
         * of output channel {@code (b*cb + c)*mult + j}.
         */
        private static float[][][] transposed(ConvGeometry geo, RefView w, int cb) {
            int mult = geo.coutPerGroup();
            int taps = geo.kh() * geo.kw();
            int blocks = (geo.cin() + cb - 1) / cb;
            float[][][] wt = new float[blocks][mult * taps][cb];
            for (int ci = 0; ci < geo.cin(); ci++) {
                for (int j = 0; j < mult; j++) {
                    for (int t = 0; t < taps; t++) {
                        wt[ci / cb][j * taps + t][ci % cb] = w.get((ci * mult + j) * taps + t);
                    }
                }
            }
            return wt;
        }

        /**
         * Gathers {@code planes} planes of {@code len} pixels starting at {@code from} (plane q at
         * {@code from + q*stride}) channels-last: {@code dst[i][q] = act(src[from + q*stride + i])}.
         */
        private static void gather(float[] src, int from, int stride, int planes, int len, Activation.Kind act, float[][] dst) {
            for (int i = 0; i < len; i++) {
                float[] d = dst[i];
                int at = from + i;
                if (act == null) {
                    for (int q = 0; q < planes; q++) {
                        d[q] = src[at + q * stride];
                    }
                } else {
                    float cap = act.cap();
                    for (int q = 0; q < planes; q++) {
                        d[q] = Math.min(Math.max(src[at + q * stride], 0f), cap);   // act.apply
                    }
                }
            }
        }

        /** The inverse of {@link #gather} without activation: {@code dst[from + q*stride + i] = src[i][q]}. */
        private static void scatter(float[][] src, int planes, int len, float[] dst, int from, int stride) {
            for (int i = 0; i < len; i++) {
                float[] s = src[i];
                int at = from + i;
                for (int q = 0; q < planes; q++) {
                    dst[at + q * stride] = s[q];
                }
            }
        }

        /** {@code t[c] += a[c] * b[c]} for c in [0, n): zero-offset arrays, so C2 vectorises it. */
        private static void multiplyAdd(int n, float[] a, float[] b, float[] t) {
            for (int c = 0; c < n; c++) {
                t[c] += a[c] * b[c];
            }
        }

        /** One (image, channel block) task: its thread's two buffers, image n, block b, first channel c0, channel count cl. */
        @FunctionalInterface
        private interface ImageBlockBody {
            void run(float[][] first, float[][] second, int n, int b, int c0, int cl);
        }

        /** Runs {@code body} for every (image, channel block) in parallel, with per-thread buffers of the given rows by cb. */
        private static void overImageBlocks(ConvGeometry geo, Tiling tl, int firstRows, int secondRows, ImageBlockBody body) {
            Parallel.range(geo.n() * tl.blocks(), 1, (lo, hi) -> {
                float[][] first = new float[firstRows][tl.cb()];
                float[][] second = new float[secondRows][tl.cb()];
                for (int task = lo; task < hi; task++) {
                    int n = task / tl.blocks();
                    int b = task % tl.blocks();
                    int c0 = b * tl.cb();
                    body.run(first, second, n, b, c0, Math.min(geo.cin(), c0 + tl.cb()) - c0);
                }
            });
        }

        static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y, Activation.Kind act) {
            Tiling tl = Tiling.of(geo, geo.n(), w);
            int mult = tl.mult();
            int inPlane = geo.inPlane();
            int outPlane = geo.outPlane();
            overImageBlocks(geo, tl, inPlane, mult * outPlane, (in, acc, n, b, c0, cl) -> {
                gather(x.data(), x.offset() + (n * geo.cin() + c0) * inPlane, inPlane, cl, inPlane, act, in);
                for (int j = 0; j < mult; j++) {
                    for (int o = 0; o < outPlane; o++) {
                        float[] a = acc[j * outPlane + o];
                        for (int c = 0; c < cl; c++) {
                            a[c] = bias == null ? 0f : bias.get((c0 + c) * mult + j);
                        }
                    }
                    for (int t = 0; t < tl.taps(); t++) {
                        float[] wr = tl.wt()[b][j * tl.taps() + t];
                        for (int k = tl.pairs().first[t]; k < tl.pairs().first[t + 1]; k++) {
                            multiplyAdd(cl, wr, in[tl.pairs().in[k]], acc[j * outPlane + tl.pairs().out[k]]);
                        }
                    }
                }
                // output channel (c0 + c)*mult + j is plane (c*mult + j) from the block's first
                int yFrom = y.offset() + (n * geo.cout() + c0 * mult) * outPlane;
                for (int j = 0; j < mult; j++) {
                    scatter(Arrays.copyOfRange(acc, j * outPlane, (j + 1) * outPlane), cl, outPlane,
                            y.data(), yFrom + j * outPlane, mult * outPlane);
                }
            });
        }

        static void backwardData(ConvGeometry geo, RefView dy, RefView w, RefView dx) {
            Tiling tl = Tiling.of(geo, geo.n(), w);
            int mult = tl.mult();
            int inPlane = geo.inPlane();
            int outPlane = geo.outPlane();
            overImageBlocks(geo, tl, outPlane, inPlane, (g, acc, n, b, c0, cl) -> {
                for (float[] a : acc) {
                    Arrays.fill(a, 0f);
                }
                int gFrom = dy.offset() + (n * geo.cout() + c0 * mult) * outPlane;
                for (int j = 0; j < mult; j++) {
                    gather(dy.data(), gFrom + j * outPlane, mult * outPlane, cl, outPlane, null, g);
                    for (int t = 0; t < tl.taps(); t++) {
                        float[] wr = tl.wt()[b][j * tl.taps() + t];
                        for (int k = tl.pairs().first[t]; k < tl.pairs().first[t + 1]; k++) {
                            multiplyAdd(cl, wr, g[tl.pairs().out[k]], acc[tl.pairs().in[k]]);
                        }
                    }
                }
                scatter(acc, cl, inPlane, dx.data(), dx.offset() + (n * geo.cin() + c0) * inPlane, inPlane);
            });
        }

        static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw, Activation.Kind act) {
            Tiling tl = Tiling.of(geo, 1, null);
            int mult = tl.mult();
            int taps = tl.taps();
            int cin = geo.cin();
            int inPlane = geo.inPlane();
            int outPlane = geo.outPlane();
            Pairs pr = tl.pairs();
            int cb = tl.cb();
            int blocks = tl.blocks();
            Parallel.range(blocks, 1, (lo, hi) -> {
                float[][] in = new float[inPlane][cb];
                float[][] g = new float[outPlane][cb];
                double[] image = new double[cb];
                double[][] sums = new double[mult * taps][cb];
                for (int b = lo; b < hi; b++) {
                    int c0 = b * cb;
                    int cl = Math.min(cin, c0 + cb) - c0;
                    for (double[] s : sums) {
                        Arrays.fill(s, 0);
                    }
                    for (int n = 0; n < geo.n(); n++) {
                        gather(x.data(), x.offset() + (n * cin + c0) * inPlane, inPlane, cl, inPlane, act, in);
                        int gFrom = dy.offset() + (n * geo.cout() + c0 * mult) * outPlane;
                        for (int j = 0; j < mult; j++) {
                            gather(dy.data(), gFrom + j * outPlane, mult * outPlane, cl, outPlane, null, g);
                            for (int t = 0; t < taps; t++) {
                                Arrays.fill(image, 0);
                                for (int k = pr.first[t]; k < pr.first[t + 1]; k++) {
                                    float[] gr = g[pr.out[k]];
                                    float[] xr = in[pr.in[k]];
                                    for (int c = 0; c < cl; c++) {
                                        image[c] += (double) gr[c] * xr[c];
                                    }
                                }
                                double[] s = sums[j * taps + t];
                                for (int c = 0; c < cl; c++) {
                                    s[c] += image[c];
                                }
                            }
                        }
                    }
                    for (int c = 0; c < cl; c++) {
                        for (int j = 0; j < mult; j++) {
                            for (int t = 0; t < taps; t++) {
                                dw.set(((c0 + c) * mult + j) * taps + t, (float) sums[j * taps + t][c]);
                            }
                        }
                    }
                }
            });
        }
    }
}
