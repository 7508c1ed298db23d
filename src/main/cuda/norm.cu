// Batch-norm kernels (training forward with running-stat update, eval forward, the backward ops, the
// in-place BN's backward from its output), group norm forward and backward, and per-channel sums (conv
// bias gradient). One block per channel (or per (sample, group)) reduces in double with a fixed tree
// (deterministic); elementwise passes use a full grid. Reference: ops/norm/BatchNorm*.java, GroupNorm*.java,
// ops/conv/BiasGrad.java. Check: mvn test -Dgroups=gpu (CudaOpsParityTest); the per-element math (norm.cuh)
// also runs on the CPU in HostKernelMathTest.
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

// Training statistics: mean, biased var -> saveMean, saveInvStd; running stats updated in place (unbiased var).
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
    saveInvStd[c] = (float)ls_inv_std(var, eps);
    if (runMean != nullptr) {  // null: a recomputed copy (BatchNorm.Mode.REPLAY) leaves the running stats alone
      ls_bn_running_update(runMean + c, runVar + c, mean, var, n, momentum);
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
    double invStd = eps < 0 ? (double)invStdOrVar[c] : ls_inv_std(invStdOrVar[c], eps);
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
  double invStd = eps < 0 ? (double)invStdOrVar[c] : ls_inv_std(invStdOrVar[c], eps);
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
    dx[i] = (float)(dy[i] * (gamma[c] * ls_inv_std(runVar[c], eps)));
  }
}

// out[c] = sum over (N, HW) of x[n, c, :] (conv bias gradient), one block per channel.
extern "C" __global__ void ls_channel_sum_k(int N, int C, int HW, const float* x, float* out) {
  __shared__ double sh[LS_RED_THREADS];
  double s = ls_channel_sum(x, N, C, HW, blockIdx.x, sh);
  if (threadIdx.x == 0) out[blockIdx.x] = (float)s;
}

// In-place BN backward from the output (Note [In-place BN backward]): dGamma = sum dy*xhat, dBeta = sum dy per
// channel with xhat = (y - beta) / gamma. One block per channel.
extern "C" __global__ void ls_bn_out_backward_reduce_k(int N, int C, int HW, const float* y, const float* dy,
                                                       const float* gamma, const float* beta, float* dGamma, float* dBeta) {
  __shared__ double sh[LS_RED_THREADS];
  int c = blockIdx.x;
  float ga = gamma[c], be = beta[c];
  double sDy = 0, sDyXhat = 0;
  for (int b = 0; b < N; b++) {
    long long base = ((long long)b * C + c) * HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
      double g = dy[base + i];
      sDy += g;
      sDyXhat += g * ls_bn_xhat_from_output(y[base + i], ga, be);
    }
  }
  sDy = ls_block_sum(sDy, sh);
  sDyXhat = ls_block_sum(sDyXhat, sh);
  if (threadIdx.x == 0) { dGamma[c] = (float)sDyXhat; dBeta[c] = (float)sDy; }
}

// dX of the in-place BN from y and the reduced sums; dx may be dy (each element read before it is written).
extern "C" __global__ void ls_bn_out_backward_dx_k(long long total, int C, int HW, long long perChannel, const float* y,
                                                   const float* dy, const float* gamma, const float* beta,
                                                   const float* invStd, const float* dGamma, const float* dBeta, float* dx) {
  LS_GRID_STRIDE(i, total) {
    int c = (int)((i / HW) % C);
    double xhat = ls_bn_xhat_from_output(y[i], gamma[c], beta[c]);
    dx[i] = ls_bn_backward_dx_xhat(xhat, dy[i], gamma[c], invStd[c], (double)dBeta[c] / perChannel,
                                   (double)dGamma[c] / perChannel);
  }
}

// Group norm forward, one block per (sample, group) = one contiguous block of m = (C / groups) * HW elements:
// two-pass mean and biased variance in double, then y = x * scale + shift per channel. y may be x.
extern "C" __global__ void ls_gn_forward_k(int C, int HW, int groups, double eps, const float* x, const float* gamma,
                                           const float* beta, float* y, float* saveMean, float* saveInvStd) {
  __shared__ double sh[LS_RED_THREADS];
  int t = blockIdx.x;
  int cpg = C / groups;
  long long m = (long long)cpg * HW;
  const float* xp = x + t * m;
  double s = 0;
  for (long long i = threadIdx.x; i < m; i += blockDim.x) s += xp[i];
  double mean = ls_block_sum(s, sh) / m;
  double sq = 0;
  for (long long i = threadIdx.x; i < m; i += blockDim.x) { double d = xp[i] - mean; sq += d * d; }
  double invStd = ls_inv_std(ls_block_sum(sq, sh) / m, eps);
  if (threadIdx.x == 0) { saveMean[t] = (float)mean; saveInvStd[t] = (float)invStd; }
  int c0 = (t % groups) * cpg;
  for (long long i = threadIdx.x; i < m; i += blockDim.x) {
    int c = c0 + (int)(i / HW);
    y[t * m + i] = ls_bn_apply(xp[i], mean, invStd, gamma[c], beta[c]);
  }
}

// Group norm dX, one block per (sample, group): block sums of g = dy*gamma and g*xhat, then each element.
extern "C" __global__ void ls_gn_backward_dx_k(int C, int HW, int groups, const float* x, const float* gamma,
                                               const float* saveMean, const float* saveInvStd, const float* dy, float* dx) {
  __shared__ double sh[LS_RED_THREADS];
  int t = blockIdx.x;
  int cpg = C / groups;
  long long m = (long long)cpg * HW;
  long long base = t * m;
  int c0 = (t % groups) * cpg;
  double mu = saveMean[t], is = saveInvStd[t];
  double sG = 0, sGXhat = 0;
  for (long long i = threadIdx.x; i < m; i += blockDim.x) {
    double g = dy[base + i] * (double)gamma[c0 + i / HW];
    sG += g;
    sGXhat += g * (x[base + i] - mu) * is;
  }
  double meanG = ls_block_sum(sG, sh) / m;
  double meanGXhat = ls_block_sum(sGXhat, sh) / m;
  for (long long i = threadIdx.x; i < m; i += blockDim.x) {
    dx[base + i] = ls_gn_backward_dx(x[base + i], dy[base + i], gamma[c0 + i / HW], mu, is, meanG, meanGXhat);
  }
}

// Group norm dGamma = sum dy*xhat, dBeta = sum dy over (N, HW), one block per channel.
extern "C" __global__ void ls_gn_backward_params_k(int N, int C, int HW, int groups, const float* x, const float* saveMean,
                                                   const float* saveInvStd, const float* dy, float* dGamma, float* dBeta) {
  __shared__ double sh[LS_RED_THREADS];
  int c = blockIdx.x;
  int cpg = C / groups;
  double sDy = 0, sDyXhat = 0;
  for (int b = 0; b < N; b++) {
    int t = b * groups + c / cpg;
    double mu = saveMean[t], is = saveInvStd[t];
    long long base = ((long long)b * C + c) * HW;
    for (int i = threadIdx.x; i < HW; i += blockDim.x) {
      double g = dy[base + i];
      sDy += g;
      sDyXhat += g * (x[base + i] - mu) * is;
    }
  }
  sDy = ls_block_sum(sDy, sh);
  sDyXhat = ls_block_sum(sDyXhat, sh);
  if (threadIdx.x == 0) { dGamma[c] = (float)sDyXhat; dBeta[c] = (float)sDy; }
}
