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
     * Direct loops for small output planes: each output pixel adds its in-bounds taps in (ky, kx)
     * order after the bias, which is what the phase-plane kernels add too (their padding taps add
     * exact zeros); backward filter sums in double over images and pixels. Each tap's in-bounds
     * output rectangle is computed once, so the inner loops have no bounds tests.
     */
    private static final class SmallPlanes {
        /** Planes per parallel task: a plane is a few dozen multiply-adds. */
        private static final int GRAIN = 256;

        /** For tap t: output rows [ohLo[t], ohHi[t]) and columns [owLo[t], owHi[t]) read inside the input. */
        private record Ranges(int[] ohLo, int[] ohHi, int[] owLo, int[] owHi, int[] shift) {
            static Ranges of(ConvGeometry geo) {
                int taps = geo.kh() * geo.kw();
                int[] a = new int[taps];
                int[] b = new int[taps];
                int[] c = new int[taps];
                int[] d = new int[taps];
                int[] shift = new int[taps];
                int sh = geo.attrs().strideH();
                int sw = geo.attrs().strideW();
                for (int ky = 0; ky < geo.kh(); ky++) {
                    for (int kx = 0; kx < geo.kw(); kx++) {
                        int t = ky * geo.kw() + kx;
                        a[t] = ShapeMath.convValidStart(geo.rowOffset(ky), sh);
                        b[t] = Math.max(a[t], ShapeMath.convValidEnd(geo.h(), geo.rowOffset(ky), sh, geo.hOut()));
                        c[t] = ShapeMath.convValidStart(geo.colOffset(kx), sw);
                        d[t] = Math.max(c[t], ShapeMath.convValidEnd(geo.w(), geo.colOffset(kx), sw, geo.wOut()));
                        shift[t] = geo.rowOffset(ky) * geo.w() + geo.colOffset(kx);
                    }
                }
                return new Ranges(a, b, c, d, shift);
            }
        }

        /** act(x) of one input plane into {@code dst[0..inPlane)}. */
        private static void activated(ConvGeometry geo, float[] x, int at, Activation.Kind act, float[] dst) {
            System.arraycopy(x, at, dst, 0, geo.inPlane());
            if (act != null) {
                for (int i = 0; i < geo.inPlane(); i++) {
                    dst[i] = act.apply(dst[i]);
                }
            }
        }

        static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y, Activation.Kind act) {
            int mult = geo.coutPerGroup();
            int taps = geo.kh() * geo.kw();
            int sh = geo.attrs().strideH();
            int sw = geo.attrs().strideW();
            Ranges r = Ranges.of(geo);
            float[] yd = y.data();
            Parallel.range(geo.n() * geo.cin(), GRAIN, (lo, hi) -> {
                float[] in = new float[geo.inPlane()];
                float[] acc = new float[geo.outPlane()];
                for (int p = lo; p < hi; p++) {
                    activated(geo, x.data(), x.offset() + p * geo.inPlane(), act, in);
                    for (int j = 0; j < mult; j++) {
                        int co = (p % geo.cin()) * mult + j;
                        Arrays.fill(acc, bias == null ? 0f : bias.get(co));
                        for (int t = 0; t < taps; t++) {
                            float wt = w.get(co * taps + t);
                            for (int oh = r.ohLo[t]; oh < r.ohHi[t]; oh++) {
                                int src = oh * sh * geo.w() + r.shift[t];
                                int dst = oh * geo.wOut();
                                for (int ow = r.owLo[t]; ow < r.owHi[t]; ow++) {
                                    acc[dst + ow] += wt * in[src + ow * sw];
                                }
                            }
                        }
                        System.arraycopy(acc, 0, yd, y.offset() + ((p / geo.cin()) * geo.cout() + co) * geo.outPlane(), geo.outPlane());
                    }
                }
            });
        }

        static void backwardData(ConvGeometry geo, RefView dy, RefView w, RefView dx) {
            int mult = geo.coutPerGroup();
            int taps = geo.kh() * geo.kw();
            int sh = geo.attrs().strideH();
            int sw = geo.attrs().strideW();
            Ranges r = Ranges.of(geo);
            float[] dyd = dy.data();
            float[] dxd = dx.data();
            Parallel.range(geo.n() * geo.cin(), GRAIN, (lo, hi) -> {
                for (int p = lo; p < hi; p++) {
                    int n = p / geo.cin();
                    int plane = dx.offset() + p * geo.inPlane();
                    Arrays.fill(dxd, plane, plane + geo.inPlane(), 0f);
                    for (int j = 0; j < mult; j++) {
                        int co = (p % geo.cin()) * mult + j;
                        int g = dy.offset() + (n * geo.cout() + co) * geo.outPlane();
                        for (int t = 0; t < taps; t++) {
                            float wt = w.get(co * taps + t);
                            for (int oh = r.ohLo[t]; oh < r.ohHi[t]; oh++) {
                                int dst = plane + oh * sh * geo.w() + r.shift[t];
                                int src = g + oh * geo.wOut();
                                for (int ow = r.owLo[t]; ow < r.owHi[t]; ow++) {
                                    dxd[dst + ow * sw] += wt * dyd[src + ow];
                                }
                            }
                        }
                    }
                }
            });
        }

        static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw, Activation.Kind act) {
            int mult = geo.coutPerGroup();
            int taps = geo.kh() * geo.kw();
            int sh = geo.attrs().strideH();
            int sw = geo.attrs().strideW();
            Ranges r = Ranges.of(geo);
            float[] dyd = dy.data();
            Parallel.range(geo.cout(), Math.max(1, GRAIN / Math.max(1, geo.n())), (lo, hi) -> {
                float[] in = new float[geo.inPlane()];
                double[] sums = new double[taps];
                for (int co = lo; co < hi; co++) {
                    Arrays.fill(sums, 0);
                    for (int n = 0; n < geo.n(); n++) {
                        activated(geo, x.data(), x.offset() + (n * geo.cin() + co / mult) * geo.inPlane(), act, in);
                        int g = dy.offset() + (n * geo.cout() + co) * geo.outPlane();
                        for (int t = 0; t < taps; t++) {
                            double s = 0;
                            for (int oh = r.ohLo[t]; oh < r.ohHi[t]; oh++) {
                                int src = oh * sh * geo.w() + r.shift[t];
                                int gr = g + oh * geo.wOut();
                                for (int ow = r.owLo[t]; ow < r.owHi[t]; ow++) {
                                    s += (double) dyd[gr + ow] * in[src + ow * sw];
                                }
                            }
                            sums[t] += s;
                        }
                    }
                    for (int t = 0; t < taps; t++) {
                        dw.set(co * taps + t, (float) sums[t]);
                    }
                }
            });
        }
    }
}
