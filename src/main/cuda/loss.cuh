// Per-pixel softmax cross-entropy math, shared by loss.cu and the host build (src/main/cpp/hostmath.cpp,
// HostKernelMathTest). Matches ops/loss/CrossEntropyMath.java and SoftmaxCrossEntropy*.java: stable
// log-sum-exp in double over K classes at stride `plane`.
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <math.h>

__host__ __device__ inline double ls_log_sum_exp(const float* z, long long stride, int K) {
  double m = -INFINITY;
  for (int k = 0; k < K; k++) m = fmax(m, (double)z[k * stride]);
  double s = 0;
  for (int k = 0; k < K; k++) s += exp(z[k * stride] - m);
  return m + log(s);
}

// Label class of a float-slot label: the class index, -1 for the ignore index, -2 for an invalid label.
__host__ __device__ inline int ls_label_class(float v, int K, int ignoreIndex) {
  int y = (int)v;
  if (v != (float)y) return -2;
  if (y == ignoreIndex) return -1;
  return (y < 0 || y >= K) ? -2 : y;
}

// Negative log-likelihood of one pixel of class y (unweighted): lse(z) - z_y.
__host__ __device__ inline double ls_ce_nll(const float* z, long long stride, int K, int y) {
  return ls_log_sum_exp(z, stride, K) - z[(long long)y * stride];
}

// dz of one pixel: scale * w * (softmax(z) - onehot(y)) with scale = dLoss / (sum of the valid pixels' weights);
// zeros where the pixel is ignored (y < 0) or scale is 0.
__host__ __device__ inline void ls_ce_pixel_backward(const float* z, float* dz, long long stride, int K, int y, double scale,
                                                     double w) {
  if (y < 0 || scale == 0) {
    for (int k = 0; k < K; k++) dz[k * stride] = 0.f;
    return;
  }
  double lse = ls_log_sum_exp(z, stride, K);
  double g = scale * w;
  for (int k = 0; k < K; k++) dz[k * stride] = (float)(g * (exp(z[k * stride] - lse) - (k == y ? 1 : 0)));
}
