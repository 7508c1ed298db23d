// Bilinear taps along one axis, PyTorch semantics; matches ops/shape/BilinearAxis.java and
// tensor/ShapeMath.bilinearSource. Shared by resize.cu and any host build.
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
