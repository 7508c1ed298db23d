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

// Note [Mixed precision] on the GPU: element i of the elementwise ops on views of any storage type (type codes and
// ls_load / ls_store in half.cuh): loaded to float, computed as the float32 kernels, rounded once when stored. The
// *_t_k kernels of elementwise.cu and the host build (HostKernelMathTest) run these.
#include "half.cuh"

__host__ __device__ inline void ls_act_forward_t(long long i, float cap, const void* x, int tx, void* y, int ty) {
  ls_store(y, ty, i, ls_act_forward(ls_load(x, tx, i), cap));
}

__host__ __device__ inline void ls_act_backward_t(long long i, float cap, const void* y, int ty, const void* dy, int tdy,
                                                  void* dx, int tdx) {
  ls_store(dx, tdx, i, ls_act_backward(ls_load(y, ty, i), ls_load(dy, tdy, i), cap));
}

// y = x[0] + x[1] + ... + x[k-1] in float, in input order (Add.reference), rounded once; y may alias an input.
__host__ __device__ inline void ls_add_t(long long i, int k, int t, const void* const* x, void* y, int ty) {
  float s = ls_load(x[0], t, i);
  for (int j = 1; j < k; j++) s = ls_fadd(s, ls_load(x[j], t, i));
  ls_store(y, ty, i, s);
}

__host__ __device__ inline void ls_scale_t(long long i, float factor, const void* x, int tx, void* y, int ty) {
  ls_store(y, ty, i, ls_fmul(factor, ls_load(x, tx, i)));
}

__host__ __device__ inline void ls_accumulate_t(long long i, void* acc, int tacc, const void* x, int tx) {
  ls_store(acc, tacc, i, ls_fadd(ls_load(acc, tacc, i), ls_load(x, tx, i)));
}

