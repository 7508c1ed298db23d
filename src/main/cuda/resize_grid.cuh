// Bilinear resize forward and backward written for bandwidth: the bodies, written once for the GPU (shape.cu wraps
// them in __global__ functions) and the host (src/main/cpp/hostgrid.cpp runs them over the same grid,
// HostResizeGridTest). Reference: ops/shape/Resize.java, ResizeBackward.java; taps: resize.cuh (BilinearAxis).
//
// Note [Resize by row bands]: the old kernels ran one thread per element with three 64-bit divisions each, and the
// backward searched each input element's first reaching output row and column by bisection and read its dY
// window scattered across threads. Now:
//  - Forward: grid (band of LS_RS_ROWS output rows, plane). The band's row taps are computed once into shared
//    memory; each thread takes columns (its column tap computed once) and writes them row by row (coalesced);
//    each element is Resize's arithmetic (in double, rounded to float, no FMA contraction): the same bits as the
//    reference.
//  - Backward (a gather, no atomics): grid (input row ky, plane). The block walks the dY rows whose vertical taps
//    reach ky, in order; it stages each row in shared memory with coalesced loads, then each thread adds, for each
//    input column it owns (at most LS_RS_PER), the column taps' weights times the staged values, and the row's
//    weight times that into a double accumulator. Each dY row is read by the 1-2 blocks of the rows its taps reach.
// Shapes past LS_RS_STAGE output columns or LS_RS_PER * 256 input columns keep the one-thread-per-element kernels.
// x, y, dy, dx may be 16-bit (storage type dt, half.cuh; Note [Mixed precision]): loaded to float, the same arithmetic,
// each stored value rounded once more, as the reference rounds what it stores.
#pragma once
#include "grid.cuh"
#include "half.cuh"
#include "resize.cuh"
#include "upsample_loss.cuh"  // ls_dmul, ls_dadd

#define LS_RS_BLOCK 256
#define LS_RS_ROWS 8
#define LS_RS_STAGE 6144
#define LS_RS_PER 8

struct LsResizeFwdShared {
  int i0[LS_RS_ROWS], i1[LS_RS_ROWS];
  double w0[LS_RS_ROWS], w1[LS_RS_ROWS];
};

struct LsResizeBwdShared {
  float row[LS_RS_STAGE];
};

// y [planes, outH, outW] = x [planes, inH, inW] resized. Grid (ceil(outH / LS_RS_ROWS), min(planes, 65535)).
template <class T>
__host__ __device__ inline void ls_resize_fwd_body(const T& t, LsResizeFwdShared& sh, int planes, int inH, int inW, int outH,
                                                   int outW, int alignCorners, const void* x, void* y, int dt) {
  int r0 = t.bx() * LS_RS_ROWS;
  int nr = outH - r0 < LS_RS_ROWS ? outH - r0 : LS_RS_ROWS;
  if (t.tx() < nr) {
    LsTap th = ls_bilinear_tap(r0 + t.tx(), inH, outH, alignCorners);
    sh.i0[t.tx()] = th.i0;
    sh.i1[t.tx()] = th.i1;
    sh.w0[t.tx()] = th.w0;
    sh.w1[t.tx()] = th.w1;
  }
  t.sync();
  for (int p = t.by(); p < planes; p += t.gy()) {
    long long xp = (long long)p * inH * inW;
    long long yp = (long long)p * outH * outW;
    for (int j = t.tx(); j < outW; j += t.bdim()) {
      LsTap tw = ls_bilinear_tap(j, inW, outW, alignCorners);
      for (int r = 0; r < nr; r++) {
        long long a = xp + (long long)sh.i0[r] * inW;
        long long b = xp + (long long)sh.i1[r] * inW;
        double top = ls_dadd(ls_dmul(tw.w0, ls_load(x, dt, a + tw.i0)), ls_dmul(tw.w1, ls_load(x, dt, a + tw.i1)));
        double bottom = ls_dadd(ls_dmul(tw.w0, ls_load(x, dt, b + tw.i0)), ls_dmul(tw.w1, ls_load(x, dt, b + tw.i1)));
        ls_store(y, dt, yp + (long long)(r0 + r) * outW + j, (float)ls_dadd(ls_dmul(sh.w0[r], top), ls_dmul(sh.w1[r], bottom)));
      }
    }
  }
}

// dx [planes, inH, inW] from dy [planes, outH, outW]. Grid (inH, min(planes, 65535)).
template <class T>
__host__ __device__ inline void ls_resize_bwd_body(const T& t, LsResizeBwdShared& sh, int planes, int inH, int inW, int outH,
                                                   int outW, int alignCorners, const void* dy, void* dx, int dt) {
  int ky = t.bx();
  // the first output column whose taps can reach each owned input column (taps are monotone)
  int first[LS_RS_PER];
  int own = 0;
  for (int q = 0; q < LS_RS_PER; q++) {
    int kx = t.tx() + q * t.bdim();
    if (kx >= inW) break;
    first[q] = ls_first_tap_at_least(kx - 1, inW, outW, alignCorners);
    own = q + 1;
  }
  int rFirst = ls_first_tap_at_least(ky - 1, inH, outH, alignCorners);
  for (int p = t.by(); p < planes; p += t.gy()) {
    long long dyp = (long long)p * outH * outW;
    double acc[LS_RS_PER];
    for (int q = 0; q < LS_RS_PER; q++) acc[q] = 0;
    for (int r = rFirst; r < outH; r++) {
      LsTap th = ls_bilinear_tap(r, inH, outH, alignCorners);
      if (th.i0 > ky) break;  // the same for every thread
      double rw = ls_tap_weight(th, ky);
      if (rw == 0.0) continue;
      for (int c = t.tx(); c < outW; c += t.bdim()) sh.row[c] = ls_load(dy, dt, dyp + (long long)r * outW + c);
      t.sync();
      for (int q = 0; q < own; q++) {
        int kx = t.tx() + q * t.bdim();
        double hs = 0;
        for (int c = first[q]; c < outW; c++) {
          LsTap tw = ls_bilinear_tap(c, inW, outW, alignCorners);
          if (tw.i0 > kx) break;
          hs += ls_tap_weight(tw, kx) * sh.row[c];
        }
        acc[q] += rw * hs;
      }
      t.sync();  // the next row overwrites the stage
    }
    for (int q = 0; q < own; q++) {
      ls_store(dx, dt, ((long long)p * inH + ky) * inW + t.tx() + q * t.bdim(), (float)acc[q]);
    }
  }
}
