package org.leanseg.ops.conv;

import org.leanseg.tensor.Shape;

/**
 * The textbook convolution in double: seven nested loops over (n, co, oh, ow, ci, ky, kx), giving
 * the forward output, its per-element sum of |terms| (for a rounding-aware tolerance) and, given
 * dY, the input and weight gradients. The oracle the fast kernels are checked against.
 */
final class NaiveConv {
    final double[] y;
    final double[] yAbs;
    final double[] dx;
    final double[] dw;
    final double[] db;

    NaiveConv(Conv2d op, Shape xs, float[] x, Shape ws, float[] w, float[] bias, Shape ys, float[] dy) {
        int n = xs.dim(0), cin = xs.dim(1), h = xs.dim(2), wd = xs.dim(3);
        int cout = ws.dim(0), cinG = ws.dim(1), kh = ws.dim(2), kw = ws.dim(3);
        int ho = ys.dim(2), wo = ys.dim(3);
        int coutG = cout / op.groups();
        y = new double[n * cout * ho * wo];
        yAbs = new double[y.length];
        dx = new double[x.length];
        dw = new double[w.length];
        db = new double[cout];
        for (int b = 0; b < n; b++) {
            for (int co = 0; co < cout; co++) {
                int g = co / coutG;
                for (int oh = 0; oh < ho; oh++) {
                    for (int ow = 0; ow < wo; ow++) {
                        int yi = ((b * cout + co) * ho + oh) * wo + ow;
                        double s = bias == null ? 0 : bias[co];
                        double abs = Math.abs(s);
                        double grad = dy == null ? 0 : dy[yi];
                        db[co] += grad;
                        for (int c = 0; c < cinG; c++) {
                            int ci = g * cinG + c;
                            for (int ky = 0; ky < kh; ky++) {
                                int ih = oh * op.strideH() - op.padH() + ky * op.dilationH();
                                if (ih < 0 || ih >= h) {
                                    continue;
                                }
                                for (int kx = 0; kx < kw; kx++) {
                                    int iw = ow * op.strideW() - op.padW() + kx * op.dilationW();
                                    if (iw < 0 || iw >= wd) {
                                        continue;
                                    }
                                    int xi = ((b * cin + ci) * h + ih) * wd + iw;
                                    int wi = ((co * cinG + c) * kh + ky) * kw + kx;
                                    double t = (double) x[xi] * w[wi];
                                    s += t;
                                    abs += Math.abs(t);
                                    dx[xi] += grad * w[wi];
                                    dw[wi] += grad * x[xi];
                                }
                            }
                        }
                        y[yi] = s;
                        yAbs[yi] = abs;
                    }
                }
            }
        }
    }
}
