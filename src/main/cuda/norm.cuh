// Per-element and per-channel math of batch norm and group norm, shared by norm.cu and the host
// build (src/main/cpp/hostmath.cpp, checked by HostKernelMathTest on every CI run). Matches
// ops/norm/BatchNorm*.java and GroupNorm*.java: xhat = (x - mean) * invStd, y = x * scale + shift,
// in double, rounded to float once.
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <math.h>

__host__ __device__ inline double ls_inv_std(double var, double eps) { return 1.0 / sqrt(var + eps); }

// y = x * scale + shift with scale = gamma * invStd, shift = beta - mean * scale (BN and GN alike).
__host__ __device__ inline float ls_bn_apply(float x, double mean, double invStd, float gamma, float beta) {
  double scale = gamma * invStd;
  double shift = beta - mean * scale;
  return (float)(x * scale + shift);
}

// Running statistics, PyTorch semantics: momentum-weighted mean and UNBIASED variance (n / (n - 1)).
__host__ __device__ inline void ls_bn_running_update(float* runMean, float* runVar, double mean, double var, long long n,
                                                     double momentum) {
  double unbiased = n > 1 ? var * n / (n - 1) : var;
  *runMean = (float)((1 - momentum) * *runMean + momentum * mean);
  *runVar = (float)((1 - momentum) * *runVar + momentum * unbiased);
}

// dX of training-mode BN from xhat: k*(dy - meanDy - xhat*meanDyXhat), k = gamma*invStd.
__host__ __device__ inline float ls_bn_backward_dx_xhat(double xhat, float dy, float gamma, double invStd, double meanDy,
                                                        double meanDyXhat) {
  return (float)(gamma * invStd * (dy - meanDy - xhat * meanDyXhat));
}

// dX of training-mode BN from its input x.
__host__ __device__ inline float ls_bn_backward_dx(float x, float dy, double mean, double invStd, float gamma,
                                                    double meanDy, double meanDyXhat) {
  return ls_bn_backward_dx_xhat((x - mean) * invStd, dy, gamma, invStd, meanDy, meanDyXhat);
}

// In-place BN backward (Note [In-place BN backward]): xhat recovered from the output, (y - beta) / gamma.
// The caller guarantees |gamma| is far from 0 (BatchNorm.GAMMA_GUARD).
__host__ __device__ inline double ls_bn_xhat_from_output(float y, float gamma, float beta) {
  return (y - (double)beta) * (1.0 / (double)gamma);
}

// dX of group norm for one element of a (sample, group) block: invStd*(dy*gamma - meanG - xhat*meanGXhat),
// meanG and meanGXhat the block means of dy*gamma and dy*gamma*xhat.
__host__ __device__ inline float ls_gn_backward_dx(float x, float dy, float gamma, double mean, double invStd,
                                                   double meanG, double meanGXhat) {
  double xhat = (x - mean) * invStd;
  return (float)(invStd * (dy * (double)gamma - meanG - xhat * meanGXhat));
}
