// Fused bilinear upsample + softmax cross-entropy (Note [Fused upsample loss], ops/loss/UpsampleSoftmaxCrossEntropy*.java):
// the kernel bodies, written once for the GPU (loss.cu wraps them in __global__ functions) and the host
// (src/main/cpp/hostgrid.cpp runs them over the same grid, HostUpsampleLossGridTest). The full-resolution logits and
// their gradient never exist: every pixel's K logits are interpolated from the stride-4 logits z [N, K, h, w] as
// Resize computes them (in double, rounded to float), as they are needed.
//
// Note [Fused upsample loss on the GPU]:
//  - Forward (ls_up_ce_partial_k): `rowBlocks` blocks over the N * outH output rows (block b takes a contiguous range);
//    each thread adds w[y] * nll and w[y] over its pixels in double, the block adds them with a fixed tree into two
//    partials; ls_ce_finalize_k (loss.cu) then adds the partials in a fixed order: loss = sum / weight. A bad label's
//    flat pixel index goes to *bad (atomic min: the smallest, whatever the order), read after the step.
//  - Backward (ls_up_ce_backward_k) is a gather, so it needs no atomics and its sums have a fixed order: block
//    (x = (stride-4 row r, segment of segC stride-4 columns), y = (image n, group of kg classes)) owns dz[n, k, r, c]
//    for its classes and columns (at most LS_UPCE_PER per thread, accumulated in double registers). It walks the
//    output rows i whose vertical taps reach r, in order; for each it computes the softmax gradient of the pixels of
//    the row whose horizontal taps reach the segment (a span of at most `span` pixels, their taps staged once in
//    shared memory) into shared memory for its classes, then each thread adds, for each owned (k, c), the taps'
//    weights times those gradients. Each output row is evaluated by the 1-2 blocks of the stride-4 rows its taps
//    reach, a pixel at a segment edge by 2 segments, and a pixel by each class group: a small recomputation of the
//    cheap part (the interpolation and softmax read the 4 taps of z, which stay in cache) instead of storing
//    N * K * outH * outW floats twice. The weight total comes from ls_ce_partial_k over the labels.
// The grids are decided in backend/cuda/UpLossGrid.java from the shape only.
#pragma once
#include <math.h>

#include "grid.cuh"
#include "half.cuh"
#include "loss.cuh"
#include "resize.cuh"

#define LS_UPCE_BLOCK 256
// Floats of the staged gradients (kg classes x span pixels).
#define LS_UPCE_STAGE 6144
// Most pixels of a backward block's span.
#define LS_UPCE_SPAN 384
// Outputs per thread of the backward (kg * segC <= LS_UPCE_PER * LS_UPCE_BLOCK).
#define LS_UPCE_PER 4

// The op and its grid (UpLossGrid.java writes these fields in this order).
struct LsUpCeGrid {
  int N, K, h, w, outH, outW, alignCorners, ignoreIndex;
  int rowBlocks;                       // forward
  int segC, segs, kg, groups, span;    // backward
};

struct LsUpCeFwdShared {
  double a[LS_UPCE_BLOCK], b[LS_UPCE_BLOCK];
};

struct LsUpCeBwdShared {
  float g[LS_UPCE_STAGE];
  double tw0[LS_UPCE_SPAN], tw1[LS_UPCE_SPAN];
  int ti0[LS_UPCE_SPAN], ti1[LS_UPCE_SPAN];
};

// a*b and a+b in double, each rounded once (no contraction into an FMA), as the reference and the host build.
__host__ __device__ inline double ls_dmul(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dmul_rn(a, b);
#else
  return a * b;
#endif
}
__host__ __device__ inline double ls_dadd(double a, double b) {
#ifdef __CUDA_ARCH__
  return __dadd_rn(a, b);
#else
  return a + b;
#endif
}

// Logit k of the output pixel with taps (th, tw), zn = the index of image n's class 0 plane in z, whose storage type is
// dt (half.cuh: 16-bit logits are loaded to float; the interpolated logit is not rounded again, as the reference's
// fused op computes it): Resize's arithmetic (ls_resize_at).
__host__ __device__ inline float ls_upce_logit(const void* z, int dt, long long zn, long long planeIn, int w, const LsTap& th,
                                               const LsTap& tw, int k) {
  long long p = zn + k * planeIn;
  long long r0 = p + (long long)th.i0 * w;
  long long r1 = p + (long long)th.i1 * w;
  double top = ls_dadd(ls_dmul(tw.w0, ls_load(z, dt, r0 + tw.i0)), ls_dmul(tw.w1, ls_load(z, dt, r0 + tw.i1)));
  double bottom = ls_dadd(ls_dmul(tw.w0, ls_load(z, dt, r1 + tw.i0)), ls_dmul(tw.w1, ls_load(z, dt, r1 + tw.i1)));
  return (float)ls_dadd(ls_dmul(th.w0, top), ls_dmul(th.w1, bottom));
}

// Max and sum of exp(v - max) over the pixel's K logits (CrossEntropyMath.shiftedExps, in double).
__host__ __device__ inline void ls_upce_softmax(const void* z, int dt, long long zn, long long planeIn, int w, const LsTap& th,
                                                const LsTap& tw, int K, double& m, double& s) {
  m = -INFINITY;
  for (int k = 0; k < K; k++) m = fmax(m, (double)ls_upce_logit(z, dt, zn, planeIn, w, th, tw, k));
  s = 0;
  for (int k = 0; k < K; k++) s += exp((double)ls_upce_logit(z, dt, zn, planeIn, w, th, tw, k) - m);
}

// Forward: partials[2b] = sum of w[y] * nll, partials[2b + 1] = sum of w[y] over block b's rows (grid (rowBlocks, 1)).
template <class T>
__host__ __device__ inline void ls_upce_partial_body(const T& t, LsUpCeFwdShared& sh, const LsUpCeGrid& g, const void* z,
                                                     const float* labels, const float* weights, double* partials,
                                                     unsigned long long* bad, int dt) {
  int rows = g.N * g.outH;
  int r0 = (int)((long long)rows * t.bx() / g.rowBlocks);
  int r1 = (int)((long long)rows * (t.bx() + 1) / g.rowBlocks);
  long long planeIn = (long long)g.h * g.w;
  double loss = 0, weight = 0;
  for (int row = r0; row < r1; row++) {
    int n = row / g.outH;
    LsTap th = ls_bilinear_tap(row - n * g.outH, g.h, g.outH, g.alignCorners);
    long long zn = (long long)n * g.K * planeIn;
    const float* lab = labels + (long long)row * g.outW;
    for (int j = t.tx(); j < g.outW; j += t.bdim()) {
      int y = ls_label_class(lab[j], g.K, g.ignoreIndex);
      if (y == -2) {
        t.atomic_min_u64(bad, (unsigned long long)row * g.outW + j);
        continue;
      }
      if (y < 0) continue;
      LsTap tw = ls_bilinear_tap(j, g.w, g.outW, g.alignCorners);
      double m, s;
      ls_upce_softmax(z, dt, zn, planeIn, g.w, th, tw, g.K, m, s);
      double wy = weights ? (double)weights[y] : 1.0;
      weight += wy;
      loss += wy * (m + log(s) - (double)ls_upce_logit(z, dt, zn, planeIn, g.w, th, tw, y));
    }
  }
  ls_tree_sum2(t, loss, weight, sh.a, sh.b);
  if (t.tx() == 0) {
    partials[2 * t.bx()] = loss;
    partials[2 * t.bx() + 1] = weight;
  }
}

// Backward: dz [N, K, h, w] = dLoss / total * the gradient of every valid pixel's loss, scattered onto its taps as a
// gather (Note [Fused upsample loss on the GPU]). result[1] = total of the valid pixels' weights (ls_ce_finalize_k).
// Grid (h * segs, N * groups).
template <class T>
__host__ __device__ inline void ls_upce_backward_body(const T& t, LsUpCeBwdShared& sh, const LsUpCeGrid& g, const void* z,
                                                      const float* labels, const float* weights, const float* dLoss,
                                                      const double* result, void* dz, int dt) {
  double total = result[1];
  double scale = total > 0 ? dLoss[0] / total : 0.0;
  int r = t.bx() / g.segs;
  int seg = t.bx() - r * g.segs;
  int n = t.by() / g.groups;
  int k0 = (t.by() - n * g.groups) * g.kg;
  int nk = g.K - k0 < g.kg ? g.K - k0 : g.kg;
  int c0 = seg * g.segC;
  int nc = g.w - c0 < g.segC ? g.w - c0 : g.segC;
  int jLo = ls_first_tap_at_least(c0 - 1, g.w, g.outW, g.alignCorners);
  int nj = ls_first_tap_at_least(c0 + nc, g.w, g.outW, g.alignCorners) - jLo;  // <= span (UpLossGrid)
  long long planeIn = (long long)g.h * g.w;
  long long zn = (long long)n * g.K * planeIn;
  for (int q = t.tx(); q < nj; q += t.bdim()) {
    LsTap tw = ls_bilinear_tap(jLo + q, g.w, g.outW, g.alignCorners);
    sh.ti0[q] = tw.i0;
    sh.ti1[q] = tw.i1;
    sh.tw0[q] = tw.w0;
    sh.tw1[q] = tw.w1;
  }
  t.sync();
  // the outputs this thread owns: o = tx + q * bdim < nk * nc; (class k0 + o / nc, column c0 + o % nc); the first
  // staged pixel whose taps can reach the column (taps are monotone)
  double acc[LS_UPCE_PER];
  int first[LS_UPCE_PER];
  int own = 0;
  for (int q = 0; q < LS_UPCE_PER; q++) {
    acc[q] = 0;
    int o = t.tx() + q * t.bdim();
    if (o >= nk * nc) break;
    int c = c0 + o % nc;
    int lo = 0, hi = nj;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (sh.ti0[mid] >= c - 1) hi = mid; else lo = mid + 1;
    }
    first[q] = lo;
    own = q + 1;
  }
  for (int i = ls_first_tap_at_least(r - 1, g.h, g.outH, g.alignCorners); i < g.outH; i++) {
    LsTap th = ls_bilinear_tap(i, g.h, g.outH, g.alignCorners);
    if (th.i0 > r) break;  // the same for every thread: no barrier is skipped by part of the block
    double rw = ls_tap_weight(th, r);
    if (rw == 0.0) continue;
    const float* lab = labels + ((long long)n * g.outH + i) * g.outW;
    for (int q = t.tx(); q < nj; q += t.bdim()) {
      int y = ls_label_class(lab[jLo + q], g.K, g.ignoreIndex);
      if (y < 0 || scale == 0) {  // ignored, or bad (reported by ls_ce_partial_k): no gradient
        for (int k = 0; k < nk; k++) sh.g[k * g.span + q] = 0.f;
        continue;
      }
      LsTap tw = {sh.ti0[q], sh.ti1[q], sh.tw0[q], sh.tw1[q]};
      double m, s;
      ls_upce_softmax(z, dt, zn, planeIn, g.w, th, tw, g.K, m, s);
      double inv = 1.0 / s;
      double gy = scale * (weights ? (double)weights[y] : 1.0);
      for (int k = 0; k < nk; k++) {
        double p = exp((double)ls_upce_logit(z, dt, zn, planeIn, g.w, th, tw, k0 + k) - m) * inv;
        sh.g[k * g.span + q] = (float)(gy * (p - (k0 + k == y ? 1 : 0)));
      }
    }
    t.sync();
    for (int q = 0; q < own; q++) {
      int o = t.tx() + q * t.bdim();
      int k = o / nc;
      int c = c0 + (o - k * nc);
      const float* gk = sh.g + k * g.span;
      double hs = 0;
      for (int jj = first[q]; jj < nj && sh.ti0[jj] <= c; jj++) {
        double cw = (sh.ti0[jj] == c ? sh.tw0[jj] : 0.0) + (sh.ti1[jj] == c ? sh.tw1[jj] : 0.0);
        hs += cw * gk[jj];
      }
      acc[q] += rw * hs;
    }
    t.sync();
  }
  for (int q = 0; q < own; q++) {
    int o = t.tx() + q * t.bdim();
    int k = o / nc;
    int c = c0 + (o - k * nc);
    ls_store(dz, dt, (((long long)n * g.K + k0 + k) * g.h + r) * g.w + c, (float)acc[q]);
  }
}

// Eval argmax of the upsampled logits (ops/loss/UpsampleArgmax.java): out[n, i, j] = the first class of largest
// logit (NaN never wins), each logit interpolated as Resize computes it, so the mask equals the unfused
// resize + argmax pixel for pixel. Grid (rows, 1) with rows = min(N * outH, 2^31 - 1): block x takes output rows
// x, x + gx, ...
template <class T>
__host__ __device__ inline void ls_upce_argmax_body(const T& t, const LsUpCeGrid& g, const void* z, float* out, int dt) {
  long long planeIn = (long long)g.h * g.w;
  for (int row = t.bx(); row < g.N * g.outH; row += t.gx()) {
    int n = row / g.outH;
    LsTap th = ls_bilinear_tap(row - n * g.outH, g.h, g.outH, g.alignCorners);
    long long zn = (long long)n * g.K * planeIn;
    for (int j = t.tx(); j < g.outW; j += t.bdim()) {
      LsTap tw = ls_bilinear_tap(j, g.w, g.outW, g.alignCorners);
      int best = 0;
      float bv = ls_upce_logit(z, dt, zn, planeIn, g.w, th, tw, 0);
      for (int k = 1; k < g.K; k++) {
        float v = ls_upce_logit(z, dt, zn, planeIn, g.w, th, tw, k);
        if (v > bv || (isnan(bv) && !isnan(v))) {
          best = k;
          bv = v;
        }
      }
      out[(long long)row * g.outW + j] = (float)best;
    }
  }
}
