// Per-element math of the elementwise and optimizer ops, shared by the CUDA kernels (elementwise.cu)
// and any host build. Matches ops/elementwise/*.java and ops/optim/Sgd.java (reference kernels).
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <math.h>

// ReLU / ReLU6: min(max(x, 0), cap); cap = +inf for ReLU.
__host__ __device__ inline float ls_act_forward(float x, float cap) { return fminf(fmaxf(x, 0.f), cap); }

// Gradient passes where the output is strictly inside (0, cap) (backward from the output).
__host__ __device__ inline float ls_act_backward(float y, float dy, float cap) { return (y > 0.f && y < cap) ? dy : 0.f; }

// One SGD element, PyTorch float32 order (Sgd.java): returns the new param, updates *buf.
__host__ __device__ inline float ls_sgd(float p, float g, float* buf, double lr, float momentum, float wd, int nesterov) {
  float d = (float)(g + (double)wd * p);
  float b = (float)((double)momentum * *buf + d);
  *buf = b;
  float step = nesterov ? (float)(d + (double)momentum * b) : b;
  return (float)(p - lr * step);
}
