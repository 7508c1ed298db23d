// Bilinear taps along one axis, PyTorch semantics; matches ops/shape/BilinearAxis.java and
// tensor/ShapeMath.bilinearSource. Shared by shape.cu and the host build (src/main/cpp/hostmath.cpp,
// HostKernelMathTest).
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <math.h>

struct LsTap { int i0, i1; double w0, w1; };

__host__ __device__ inline LsTap ls_bilinear_tap(int i, int in, int out, int alignCorners) {
  double src;
  if (alignCorners) src = out > 1 ? i * (double)(in - 1) / (out - 1) : 0.0;
  else src = fmax((i + 0.5) * ((double)in / out) - 0.5, 0.0);
  int lo = (int)floor(src);
  if (lo > in - 1) lo = in - 1;
  LsTap t;
  t.i0 = lo;
  t.i1 = lo + 1 < in - 1 ? lo + 1 : in - 1;
  t.w1 = src - lo;
  t.w0 = 1 - t.w1;
  return t;
}

// First output index whose tap i0 is >= target (i0 is nondecreasing in the output index).
__host__ __device__ inline int ls_first_tap_at_least(int target, int in, int out, int alignCorners) {
  int lo = 0, hi = out;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (ls_bilinear_tap(mid, in, out, alignCorners).i0 >= target) hi = mid; else lo = mid + 1;
  }
  return lo;
}

// Weight with which output index o's taps touch input index k (0 when neither tap is k).
__host__ __device__ inline double ls_tap_weight(LsTap t, int k) {
  return (t.i0 == k ? t.w0 : 0.0) + (t.i1 == k ? t.w1 : 0.0);
}

// y[r, j] of one plane x [inH, inW] resized to [outH, outW]: rows' taps blend the columns' blends, in double.
__host__ __device__ inline float ls_resize_at(const float* x, int inH, int inW, int outH, int outW, int r, int j,
                                              int alignCorners) {
  LsTap th = ls_bilinear_tap(r, inH, outH, alignCorners);
  LsTap tw = ls_bilinear_tap(j, inW, outW, alignCorners);
  double top = tw.w0 * x[(long long)th.i0 * inW + tw.i0] + tw.w1 * x[(long long)th.i0 * inW + tw.i1];
  double bottom = tw.w0 * x[(long long)th.i1 * inW + tw.i0] + tw.w1 * x[(long long)th.i1 * inW + tw.i1];
  return (float)(th.w0 * top + th.w1 * bottom);
}

// dx[ky, kx] of one plane: the dY elements [outH, outW] whose taps reach (ky, kx), weighted (a gather:
// deterministic, no atomics). Taps are monotone, so the scan starts at the first one that can reach.
__host__ __device__ inline float ls_resize_backward_at(const float* dy, int inH, int inW, int outH, int outW, int ky, int kx,
                                                       int alignCorners) {
  int r0 = ls_first_tap_at_least(ky - 1, inH, outH, alignCorners);
  int c0 = ls_first_tap_at_least(kx - 1, inW, outW, alignCorners);
  double acc = 0;
  for (int r = r0; r < outH; r++) {
    LsTap th = ls_bilinear_tap(r, inH, outH, alignCorners);
    if (th.i0 > ky) break;
    double wh = ls_tap_weight(th, ky);
    if (wh == 0.0) continue;
    double row = 0;
    for (int c = c0; c < outW; c++) {
      LsTap tw = ls_bilinear_tap(c, inW, outW, alignCorners);
      if (tw.i0 > kx) break;
      row += ls_tap_weight(tw, kx) * dy[(long long)r * outW + c];
    }
    acc += wh * row;
  }
  return (float)acc;
}
