// Mixed precision on the GPU (Note [Mixed precision]): conversions between float32 and the 16-bit storage types, and
// the dynamic loss scaling of an fp16 step (Note [Dynamic loss scaling] in ops/optim/LossScale.java) as device
// kernels, so that nothing waits for the host. Element math in half.cuh and elementwise.cuh (checked on the host by
// HostKernelMathTest); references: tensor/Half.java, ops/optim/LossScale*.java.
#include "common.cuh"
#include "elementwise.cuh"
#include "half.cuh"

// dst[i] = src[i] converted between storage types (LS_F32 / LS_BF16 / LS_F16): rounded to nearest-even into 16 bits.
extern "C" __global__ void ls_convert_k(long long n, const void* src, int srcType, void* dst, int dstType) {
  LS_GRID_STRIDE(i, n) ls_store(dst, dstType, i, ls_load(src, srcType, i));
}

// out[0] = 2^(initialLog2 + k), the loss scale of state [k, clean, skipped] (LossScale.scale: Math.scalb).
extern "C" __global__ void ls_loss_scale_k(const float* state, float* out, int initialLog2) {
  if (blockIdx.x == 0 && threadIdx.x == 0) out[0] = ldexpf(1.f, initialLog2 + (int)state[0]);
}

// found[0] = 1 when some element of g is inf or NaN (found zeroed before the first gradient; every writer writes 1).
extern "C" __global__ void ls_nonfinite_k(long long n, const float* g, float* found) {
  if (found[0] != 0.f) return;  // an earlier gradient overflowed: nothing left to learn
  LS_GRID_STRIDE(i, n) {
    if (!isfinite(g[i])) {
      found[0] = 1.f;
      return;
    }
  }
}

// The state update after the check (ls_loss_scale_update in half.cuh), one thread.
extern "C" __global__ void ls_loss_scale_update_k(float* state, const float* found, int growthInterval, int initialLog2) {
  if (blockIdx.x == 0 && threadIdx.x == 0) ls_loss_scale_update(state, found[0] != 0.f, growthInterval, initialLog2);
}

// LossScaled(Sgd): on found == 0 the update on g * (1/scale) (float reciprocal, float product: LossScaled.reference),
// else the parameter and momentum stay; g is zeroed with zeroGrad either way. g itself is never unscaled in place.
extern "C" __global__ void ls_sgd_scaled_k(long long n, float* p, float* g, float* buf, const float* lr, float lrScale,
                                           float momentum, float wd, int nesterov, int zeroGrad, const float* scale,
                                           const float* found) {
  int skip = found[0] != 0.f;
  float inv = 1.f / scale[0];
  double step = (double)lr[0] * lrScale;
  LS_GRID_STRIDE(i, n) {
    if (!skip) {
      float b = buf[i];
      p[i] = ls_sgd(p[i], ls_fmul(g[i], inv), &b, step, momentum, wd, nesterov);
      buf[i] = b;
    }
    if (zeroGrad) g[i] = 0.f;
  }
}

// LossScaled(AdamW), as ls_sgd_scaled_k.
extern "C" __global__ void ls_adamw_scaled_k(long long n, float* p, float* g, float* m, float* v, const float* hyper,
                                             float lrScale, float beta1, float beta2, float eps, float wd, int zeroGrad,
                                             const float* scale, const float* found) {
  int skip = found[0] != 0.f;
  float inv = 1.f / scale[0];
  double lr = (double)hyper[0] * lrScale;
  double bc1 = hyper[1], bc2 = hyper[2];
  double decay = ls_adamw_decay(lr, wd);
  LS_GRID_STRIDE(i, n) {
    if (!skip) {
      float mi = m[i], vi = v[i];
      p[i] = ls_adamw(p[i], ls_fmul(g[i], inv), &mi, &vi, lr, bc1, bc2, beta1, beta2, eps, decay);
      m[i] = mi;
      v[i] = vi;
    }
    if (zeroGrad) g[i] = 0.f;
  }
}
