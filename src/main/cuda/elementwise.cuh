// Per-element math of the elementwise and optimizer ops, shared by the CUDA kernels (elementwise.cu)
// and the host build (src/main/cpp/hostmath.cpp, checked by HostKernelMathTest on every CI run).
// Matches ops/elementwise/*.java, ops/optim/Sgd.java and AdamW.java (reference kernels).
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include <math.h>

// float a*b and a+b, each rounded once: nvcc would otherwise fuse them into an FMA (one rounding) where the
// reference rounds twice. The host build gets the same from -ffp-contract=off.
__host__ __device__ inline float ls_fmul(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fmul_rn(a, b);
#else
  return a * b;
#endif
}

__host__ __device__ inline float ls_fadd(float a, float b) {
#ifdef __CUDA_ARCH__
  return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

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

// Decoupled weight decay factor of AdamW: 1 - lr * weightDecay (lr already times lrScale).
__host__ __device__ inline double ls_adamw_decay(double lr, float wd) { return 1 - lr * wd; }

// One AdamW element, PyTorch order (AdamW.java): updates *m and *v (stored as float), returns the new param.
// bc1 = 1 - beta1^t, bc2 = 1 - beta2^t; decay from ls_adamw_decay.
__host__ __device__ inline float ls_adamw(float p, float g, float* m, float* v, double lr, double bc1, double bc2,
                                          float beta1, float beta2, float eps, double decay) {
  double b1 = beta1, b2 = beta2, gi = g;
  float mi = (float)(b1 * *m + (1 - b1) * gi);
  float vi = (float)(b2 * *v + (1 - b2) * gi * gi);
  *m = mi;
  *v = vi;
  double denom = sqrt(vi / bc2) + eps;
  return (float)(p * decay - lr * (mi / bc1) / denom);
}
