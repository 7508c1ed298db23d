// Per-pixel softmax cross-entropy math, shared by loss.cu and the host build (src/main/cpp/hostmath.cpp,
// HostKernelMathTest). Matches ops/loss/CrossEntropyMath.java and SoftmaxCrossEntropy*.java: stable
// log-sum-exp in double over K classes at stride `plane`.
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <math.h>
#include "half.cuh"

// Logits may be 16-bit (storage type dt, half.cuh; Note [Mixed precision]): loaded to float, the same arithmetic, a
// 16-bit dz rounded once when stored. `base` is the index of the pixel's class-0 logit.
__host__ __device__ inline double ls_log_sum_exp_t(const void* z, int dt, long long base, long long stride, int K) {
  double m = -INFINITY;
  for (int k = 0; k < K; k++) m = fmax(m, (double)ls_load(z, dt, base + k * stride));
  double s = 0;
  for (int k = 0; k < K; k++) s += exp((double)ls_load(z, dt, base + k * stride) - m);
  return m + log(s);
}

__host__ __device__ inline double ls_log_sum_exp(const float* z, long long stride, int K) {
  return ls_log_sum_exp_t(z, LS_F32, 0, stride, K);
}

// Label class of a float-slot label: the class index, -1 for the ignore index, -2 for an invalid label.
__host__ __device__ inline int ls_label_class(float v, int K, int ignoreIndex) {
  int y = (int)v;
  if (v != (float)y) return -2;
  if (y == ignoreIndex) return -1;
  return (y < 0 || y >= K) ? -2 : y;
}

// Negative log-likelihood of one pixel of class y (unweighted): lse(z) - z_y.
__host__ __device__ inline double ls_ce_nll_t(const void* z, int dt, long long base, long long stride, int K, int y) {
  return ls_log_sum_exp_t(z, dt, base, stride, K) - ls_load(z, dt, base + (long long)y * stride);
}

__host__ __device__ inline double ls_ce_nll(const float* z, long long stride, int K, int y) {
  return ls_ce_nll_t(z, LS_F32, 0, stride, K, y);
}

// dz of one pixel: scale * w * (softmax(z) - onehot(y)) with scale = dLoss / (sum of the valid pixels' weights);
// zeros where the pixel is ignored (y < 0) or scale is 0.
__host__ __device__ inline void ls_ce_pixel_backward_t(const void* z, void* dz, int dt, long long base, long long stride, int K,
                                                       int y, double scale, double w) {
  if (y < 0 || scale == 0) {
    for (int k = 0; k < K; k++) ls_store(dz, dt, base + k * stride, 0.f);
    return;
  }
  double lse = ls_log_sum_exp_t(z, dt, base, stride, K);
  double g = scale * w;
  for (int k = 0; k < K; k++) {
    ls_store(dz, dt, base + k * stride, (float)(g * (exp((double)ls_load(z, dt, base + k * stride) - lse) - (k == y ? 1 : 0))));
  }
}

__host__ __device__ inline void ls_ce_pixel_backward(const float* z, float* dz, long long stride, int K, int y, double scale,
                                                     double w) {
  ls_ce_pixel_backward_t(z, dz, LS_F32, 0, stride, K, y, scale, w);
}
