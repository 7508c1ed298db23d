// Elementwise kernels: relu/relu6 forward and backward, add, scale, fill, accumulate_into, sgd, adamw.
// Reference: ops/elementwise/*.java, ops/optim/Sgd.java, AdamW.java. Check: mvn test -Dgroups=gpu (CudaOpsParityTest).
#include "common.cuh"
#include "elementwise.cuh"

extern "C" __global__ void ls_act_forward_k(long long n, float cap, const float* x, float* y) {
  LS_GRID_STRIDE(i, n) y[i] = ls_act_forward(x[i], cap);
}

extern "C" __global__ void ls_act_backward_k(long long n, float cap, const float* y, const float* dy, float* dx) {
  LS_GRID_STRIDE(i, n) dx[i] = ls_act_backward(y[i], dy[i], cap);
}

// y = a + b (y may alias a: Add over k inputs runs this k-1 times)
extern "C" __global__ void ls_add_k(long long n, const float* a, const float* b, float* y) {
  LS_GRID_STRIDE(i, n) y[i] = a[i] + b[i];
}

extern "C" __global__ void ls_scale_k(long long n, float factor, const float* x, float* y) {
  LS_GRID_STRIDE(i, n) y[i] = factor * x[i];
}

extern "C" __global__ void ls_fill_k(long long n, float value, float* y) {
  LS_GRID_STRIDE(i, n) y[i] = value;
}

extern "C" __global__ void ls_accumulate_k(long long n, float* acc, const float* x) {
  LS_GRID_STRIDE(i, n) acc[i] += x[i];
}

// lr is read from device memory (a runtime input of the graph), times lrScale.
extern "C" __global__ void ls_sgd_k(long long n, float* p, float* g, float* buf, const float* lr, float lrScale,
                                    float momentum, float wd, int nesterov, int zeroGrad) {
  double step = (double)lr[0] * lrScale;
  LS_GRID_STRIDE(i, n) {
    float b = buf[i];
    p[i] = ls_sgd(p[i], g[i], &b, step, momentum, wd, nesterov);
    buf[i] = b;
    if (zeroGrad) g[i] = 0.f;
  }
}

// hyper = [lr, 1 - beta1^t, 1 - beta2^t] read from device memory (runtime inputs of the graph); lr times lrScale.
extern "C" __global__ void ls_adamw_k(long long n, float* p, float* g, float* m, float* v, const float* hyper, float lrScale,
                                      float beta1, float beta2, float eps, float wd, int zeroGrad) {
  double lr = (double)hyper[0] * lrScale;
  double bc1 = hyper[1], bc2 = hyper[2];
  double decay = ls_adamw_decay(lr, wd);
  LS_GRID_STRIDE(i, n) {
    float mi = m[i], vi = v[i];
    p[i] = ls_adamw(p[i], g[i], &mi, &vi, lr, bc1, bc2, beta1, beta2, eps, decay);
    m[i] = mi;
    v[i] = vi;
    if (zeroGrad) g[i] = 0.f;
  }
}


// Note [Mixed precision] on the GPU: the same ops on views of any storage type (a type code per pointer, half.cuh):
// each element loaded to float, computed as the float32 kernels do, rounded to nearest-even when stored in 16 bits.

extern "C" __global__ void ls_act_forward_t_k(long long n, float cap, const void* x, int tx, void* y, int ty) {
  LS_GRID_STRIDE(i, n) ls_act_forward_t(i, cap, x, tx, y, ty);
}

extern "C" __global__ void ls_act_backward_t_k(long long n, float cap, const void* y, int ty, const void* dy, int tdy, void* dx,
                                               int tdx) {
  LS_GRID_STRIDE(i, n) ls_act_backward_t(i, cap, y, ty, dy, tdy, dx, tdx);
}

// k <= 8 inputs of one type t (ls_add_t); unused pointers are 0.
extern "C" __global__ void ls_add_t_k(long long n, int k, int t, const void* x0, const void* x1, const void* x2,
                                      const void* x3, const void* x4, const void* x5, const void* x6, const void* x7,
                                      void* y, int ty) {
  const void* x[8] = {x0, x1, x2, x3, x4, x5, x6, x7};
  LS_GRID_STRIDE(i, n) ls_add_t(i, k, t, x, y, ty);
}

extern "C" __global__ void ls_scale_t_k(long long n, float factor, const void* x, int tx, void* y, int ty) {
  LS_GRID_STRIDE(i, n) ls_scale_t(i, factor, x, tx, y, ty);
}

extern "C" __global__ void ls_fill_t_k(long long n, float value, void* y, int ty) {
  LS_GRID_STRIDE(i, n) ls_store(y, ty, i, value);
}

extern "C" __global__ void ls_accumulate_t_k(long long n, void* acc, int tacc, const void* x, int tx) {
  LS_GRID_STRIDE(i, n) ls_accumulate_t(i, acc, tacc, x, tx);
}
