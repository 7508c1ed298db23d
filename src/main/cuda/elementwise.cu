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

