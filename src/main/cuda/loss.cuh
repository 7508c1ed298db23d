// Per-pixel softmax cross-entropy math, shared by loss.cu and any host build. Matches
// ops/loss/CrossEntropyMath.java: stable log-sum-exp in double over K classes at stride `plane`.
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
