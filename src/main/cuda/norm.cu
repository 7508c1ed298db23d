// Batch-norm kernels (training forward with running-stat update, eval forward, both backward ops) and
// per-channel sums (conv bias gradient). One block per channel reduces in double with a fixed tree
// (deterministic); elementwise passes use a full grid. Reference: ops/norm/BatchNorm*.java, ops/conv/BiasGrad.java.
// Launch with 256 threads per block for the reductions (shared arrays below).
#include "common.cuh"
#include "norm.cuh"

#define LS_RED_THREADS 256

// Sum over (N, HW) of channel c of x: thread-strided, then block tree.
__device__ inline double ls_channel_sum(const float* x, int N, int C, int HW, int c, double* sh) {
  double s = 0;
  for (int b = 0; b < N; b++) {
    const float* p = x + ((long long)b * C + c) * HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) s += p[i];
  }
  return ls_block_sum(s, sh);
}

// Training statistics: mean, biased var -> saveMean, saveInvStd; running stats updated in place (unbiased var)
// unless runMean is null (BatchNormReplay).
extern "C" __global__ void ls_bn_stats_k(int N, int C, int HW, const float* x, float* saveMean, float* saveInvStd,
                                         float* runMean, float* runVar, double eps, double momentum) {
  __shared__ double sh[LS_RED_THREADS];
  int c = blockIdx.x;
  long long n = (long long)N * HW;
  double mean = ls_channel_sum(x, N, C, HW, c, sh) / n;
  double sq = 0;
  for (int b = 0; b < N; b++) {
    const float* p = x + ((long long)b * C + c) * HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) { double d = p[i] - mean; sq += d * d; }
  }
  double var = ls_block_sum(sq, sh) / n;
  if (threadIdx.x == 0) {
    saveMean[c] = (float)mean;
    saveInvStd[c] = (float)(1.0 / sqrt(var + eps));
    if (runMean != nullptr) {  // null: a recomputed copy (BatchNormReplay) leaves the running stats alone
      double unbiased = n > 1 ? var * n / (n - 1) : var;
      runMean[c] = (float)((1 - momentum) * runMean[c] + momentum * mean);
      runVar[c] = (float)((1 - momentum) * runVar[c] + momentum * unbiased);
    }
  }
}

// y = BN(x) with per-channel mean and either invStd (training, invStdOrVar = saveInvStd, eps < 0)
// or the running variance (eval, invStd = 1/sqrt(var + eps)).
extern "C" __global__ void ls_bn_apply_k(long long total, int C, int HW, const float* x, const float* gamma,
                                         const float* beta, const float* mean, const float* invStdOrVar, double eps,
                                         float* y) {
  LS_GRID_STRIDE(i, total) {
    int c = (int)((i / HW) % C);
    double invStd = eps < 0 ? (double)invStdOrVar[c] : 1.0 / sqrt((double)invStdOrVar[c] + eps);
    y[i] = ls_bn_apply(x[i], mean[c], invStd, gamma[c], beta[c]);
  }
}

// dGamma = sum dy*xhat, dBeta = sum dy per channel (training: invStd given; eval: from running var, eps >= 0).
extern "C" __global__ void ls_bn_backward_reduce_k(int N, int C, int HW, const float* x, const float* dy,
                                                   const float* mean, const float* invStdOrVar, double eps,
                                                   float* dGamma, float* dBeta) {
  __shared__ double sh[LS_RED_THREADS];
  int c = blockIdx.x;
  double m = mean[c];
  double invStd = eps < 0 ? (double)invStdOrVar[c] : 1.0 / sqrt((double)invStdOrVar[c] + eps);
  double sDy = 0, sDyXhat = 0;
  for (int b = 0; b < N; b++) {
    long long base = ((long long)b * C + c) * HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
      double g = dy[base + i];
      sDy += g;
      sDyXhat += g * (x[base + i] - m) * invStd;
    }
  }
  sDy = ls_block_sum(sDy, sh);
  sDyXhat = ls_block_sum(sDyXhat, sh);
  if (threadIdx.x == 0) { dGamma[c] = (float)sDyXhat; dBeta[c] = (float)sDy; }
}

// Training-mode dX from the reduced sums (dGamma, dBeta of this op's own outputs).
extern "C" __global__ void ls_bn_backward_dx_k(long long total, int C, int HW, long long perChannel, const float* x,
                                               const float* dy, const float* gamma, const float* mean,
                                               const float* invStd, const float* dGamma, const float* dBeta, float* dx) {
  LS_GRID_STRIDE(i, total) {
    int c = (int)((i / HW) % C);
    dx[i] = ls_bn_backward_dx(x[i], dy[i], mean[c], invStd[c], gamma[c], (double)dBeta[c] / perChannel,
                              (double)dGamma[c] / perChannel);
  }
}

// Eval-mode dX = dy * gamma / sqrt(runVar + eps).
extern "C" __global__ void ls_bn_eval_backward_dx_k(long long total, int C, int HW, const float* dy, const float* gamma,
                                                    const float* runVar, double eps, float* dx) {
  LS_GRID_STRIDE(i, total) {
    int c = (int)((i / HW) % C);
    dx[i] = (float)(dy[i] * (gamma[c] * (1.0 / sqrt((double)runVar[c] + eps))));
  }
}

// out[c] = sum over (N, HW) of x[n, c, :] (conv bias gradient), one block per channel.
extern "C" __global__ void ls_channel_sum_k(int N, int C, int HW, const float* x, float* out) {
  __shared__ double sh[LS_RED_THREADS];
  double s = ls_channel_sum(x, N, C, HW, blockIdx.x, sh);
  if (threadIdx.x == 0) out[blockIdx.x] = (float)s;
}
