package org.leanseg.ops.conv;

import java.util.Arrays;
import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.elementwise.Activation;

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
                System.arraycopy(src, row, phases, at, geo.w());
                if (act != null) {
                    for (int i = at; i < at + geo.w(); i++) {
                        phases[i] = act.apply(phases[i]);
                    }
                }
                continue;
            }
            for (int iw = 0; iw < geo.w(); iw++) {
                phases[l.phaseIndex(ih + ph, iw + pw)] = act == null ? src[row + iw] : act.apply(src[row + iw]);
            }
        }
    }

    static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y) {
        forward(geo, x, w, bias, y, null);
    }

    /** As above on act(x) when {@code act} is not null. */
    static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y, Activation.Kind act) {
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
}
