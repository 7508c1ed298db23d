package org.leanseg.ops.conv;

import org.leanseg.backend.reference.Parallel;
import org.leanseg.backend.reference.RefView;
import org.leanseg.ops.elementwise.Activation;

/**
 * Direct depthwise convolution (groups == Cin; output channel co reads input channel
 * co / (Cout/Cin)), the 3x3 workhorse of MobileNetV2 and Xception. Each output row is built in a
 * zero-offset buffer from gathered, zero-padded input rows ({@link RowGather}), one kernel tap at a
 * time, so the multiply-add loops vectorise. Backward data gathers too (no scatter), and backward
 * filter keeps one product row per tap and reduces it at the end in double. Planes run in parallel;
 * results do not depend on the thread count. Checked by {@code Conv2dTest}.
 */
final class DepthwiseKernels {
    private DepthwiseKernels() {
    }

    /** Per-thread row buffers. */
    private static final class Rows {
        float[] acc = new float[0];
        float[] tap = new float[0];

        Rows fit(int len) {
            if (acc.length < len) {
                acc = new float[len];
                tap = new float[len];
            }
            return this;
        }
    }

    private static final ThreadLocal<Rows> ROWS = ThreadLocal.withInitial(Rows::new);

    static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y) {
        forward(geo, x, w, bias, y, null);
    }

    /** As above on act(x) when {@code act} is not null, applied to each gathered row (act(0) = 0 keeps the zero padding). */
    static void forward(ConvGeometry geo, RefView x, RefView w, RefView bias, RefView y, Activation.Kind act) {
        int taps = geo.kh() * geo.kw();
        int mult = geo.coutPerGroup();
        int sh = geo.attrs().strideH();
        int sw = geo.attrs().strideW();
        int wOut = geo.wOut();
        float[] xd = x.data();
        float[] wd = w.data();
        float[] yd = y.data();
        Parallel.range(geo.n() * geo.cout(), 1, (lo, hi) -> {
            Rows rows = ROWS.get().fit(wOut);
            float[] acc = rows.acc;
            float[] tap = rows.tap;
            for (int p = lo; p < hi; p++) {
                int n = p / geo.cout();
                int co = p % geo.cout();
                int xPlane = x.offset() + (n * geo.cin() + co / mult) * geo.inPlane();
                int wBase = w.offset() + co * taps;
                float b = bias == null ? 0f : bias.get(co);
                for (int oh = 0; oh < geo.hOut(); oh++) {
                    java.util.Arrays.fill(acc, 0, wOut, b);
                    for (int ky = 0; ky < geo.kh(); ky++) {
                        int ih = oh * sh + geo.rowOffset(ky);
                        if (ih < 0 || ih >= geo.h()) {
                            continue;
                        }
                        for (int kx = 0; kx < geo.kw(); kx++) {
                            RowGather.gather(xd, xPlane + ih * geo.w(), geo.w(), geo.colOffset(kx), sw, tap, 0, wOut);
                            activate(act, tap, wOut);
                            axpy(wOut, wd[wBase + ky * geo.kw() + kx], tap, acc);
                        }
                    }
                    System.arraycopy(acc, 0, yd, y.offset() + (p * geo.hOut() + oh) * wOut, wOut);
                }
            }
        });
    }

    /** dX[ih][iw] = sum over taps of w * dY[oh][ow] where ih = oh*sh + rowOffset, iw = ow*sw + colOffset. */
    static void backwardData(ConvGeometry geo, RefView dy, RefView w, RefView dx) {
        int taps = geo.kh() * geo.kw();
        int mult = geo.coutPerGroup();
        int sh = geo.attrs().strideH();
        int sw = geo.attrs().strideW();
        int width = geo.w();
        float[] dyd = dy.data();
        float[] wd = w.data();
        float[] dxd = dx.data();
        Parallel.range(geo.n() * geo.cin(), 1, (lo, hi) -> {
            Rows rows = ROWS.get().fit(width);
            float[] acc = rows.acc;
            float[] tap = rows.tap;
            for (int p = lo; p < hi; p++) {
                int n = p / geo.cin();
                int ci = p % geo.cin();
                for (int ih = 0; ih < geo.h(); ih++) {
                    java.util.Arrays.fill(acc, 0, width, 0f);
                    for (int j = 0; j < mult; j++) {
                        int co = ci * mult + j;
                        int dyPlane = dy.offset() + (n * geo.cout() + co) * geo.outPlane();
                        for (int ky = 0; ky < geo.kh(); ky++) {
                            int t = ih - geo.rowOffset(ky);
                            if (t < 0 || t % sh != 0 || t / sh >= geo.hOut()) {
                                continue;
                            }
                            int dyRow = dyPlane + (t / sh) * geo.wOut();
                            for (int kx = 0; kx < geo.kw(); kx++) {
                                gatherTransposed(dyd, dyRow, geo.wOut(), geo.colOffset(kx), sw, tap, width);
                                axpy(width, wd[w.offset() + co * taps + ky * geo.kw() + kx], tap, acc);
                            }
                        }
                    }
                    System.arraycopy(acc, 0, dxd, dx.offset() + (p * geo.h() + ih) * width, width);
                }
            }
        });
    }

    /** tap[iw] = dY row at ow = (iw - colOffset)/stride when that divides exactly and is in range, else 0. */
    private static void gatherTransposed(float[] src, int rowBase, int wOut, int colOffset, int stride, float[] tap, int width) {
        if (stride == 1) {
            RowGather.gather(src, rowBase, wOut, -colOffset, 1, tap, 0, width);
            return;
        }
        java.util.Arrays.fill(tap, 0, width, 0f);
        int first = Math.max(0, colOffset);
        int start = first + Math.floorMod(colOffset - first, stride);
        for (int iw = start; iw < width; iw += stride) {
            int ow = (iw - colOffset) / stride;
            if (ow >= wOut) {
                break;
            }
            tap[iw] = src[rowBase + ow];
        }
    }

    /** dW[co][ky][kx] = sum over n, oh, ow of dY * x at the tap; product rows accumulate per tap. */
    static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw) {
        backwardFilter(geo, x, dy, dw, null);
    }

    /** As above with x replaced by act(x) when {@code act} is not null. */
    static void backwardFilter(ConvGeometry geo, RefView x, RefView dy, RefView dw, Activation.Kind act) {
        int taps = geo.kh() * geo.kw();
        int mult = geo.coutPerGroup();
        int sh = geo.attrs().strideH();
        int sw = geo.attrs().strideW();
        int wOut = geo.wOut();
        float[] xd = x.data();
        float[] dyd = dy.data();
        Parallel.range(geo.cout(), 1, (lo, hi) -> {
            float[][] sums = new float[taps][wOut];
            float[] tap = new float[wOut];
            float[] grad = new float[wOut];
            for (int co = lo; co < hi; co++) {
                for (float[] s : sums) {
                    java.util.Arrays.fill(s, 0f);
                }
                for (int n = 0; n < geo.n(); n++) {
                    int xPlane = x.offset() + (n * geo.cin() + co / mult) * geo.inPlane();
                    int dyPlane = dy.offset() + (n * geo.cout() + co) * geo.outPlane();
                    for (int oh = 0; oh < geo.hOut(); oh++) {
                        System.arraycopy(dyd, dyPlane + oh * wOut, grad, 0, wOut);
                        for (int ky = 0; ky < geo.kh(); ky++) {
                            int ih = oh * sh + geo.rowOffset(ky);
                            if (ih < 0 || ih >= geo.h()) {
                                continue;
                            }
                            for (int kx = 0; kx < geo.kw(); kx++) {
                                RowGather.gather(xd, xPlane + ih * geo.w(), geo.w(), geo.colOffset(kx), sw, tap, 0, wOut);
                                activate(act, tap, wOut);
                                multiplyAdd(wOut, grad, tap, sums[ky * geo.kw() + kx]);
                            }
                        }
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

    private static void activate(Activation.Kind act, float[] row, int n) {
        if (act != null) {
            for (int j = 0; j < n; j++) {
                row[j] = act.apply(row[j]);
            }
        }
    }

    private static void axpy(int n, float a, float[] b, float[] t) {
        for (int j = 0; j < n; j++) {
            t[j] += a * b[j];
        }
    }

    private static void multiplyAdd(int n, float[] a, float[] b, float[] t) {
        for (int j = 0; j < n; j++) {
            t[j] += a[j] * b[j];
        }
    }
}
