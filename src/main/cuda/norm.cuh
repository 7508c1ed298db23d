// Per-element math of batch norm, shared by norm.cu and any host build. Matches
// ops/norm/BatchNorm*.java: xhat = (x - mean) * invStd, y = x * scale + shift, in double.
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <math.h>

__host__ __device__ inline float ls_bn_apply(float x, double mean, double invStd, float gamma, float beta) {
  double scale = gamma * invStd;
  double shift = beta - mean * scale;
  return (float)(x * scale + shift);
}

// dX of training-mode BN: k*(dy - meanDy - xhat*meanDyXhat), k = gamma*invStd.
__host__ __device__ inline float ls_bn_backward_dx(float x, float dy, double mean, double invStd, float gamma,
                                                    double meanDy, double meanDyXhat) {
  double xhat = (x - mean) * invStd;
  return (float)(gamma * invStd * (dy - meanDy - xhat * meanDyXhat));
}
