// Softmax cross-entropy with ignore index and optional class weights (mean over the weights of valid
// pixels), forward and backward. Reference: ops/loss/SoftmaxCrossEntropy*.java.
// Deterministic two-stage reduction: ls_ce_partial_k (fixed grid, block tree) then ls_ce_finalize_k
// (one block). The first invalid label's pixel index is kept with atomicMin in *badPixel (host reads it).
#include "common.cuh"
#include "loss.cuh"

// partials[2b] = sum w*nll, partials[2b+1] = sum w over block b's pixels; 256 threads per block.
// dt: the storage type of z (half.cuh).
extern "C" __global__ void ls_ce_partial_k(long long pixels, int K, long long plane, const void* z, const float* labels,
                                           int ignoreIndex, const float* weights, int withLoss, double* partials,
                                           unsigned long long* badPixel, int dt) {
  __shared__ double sh[256];
  double loss = 0, weight = 0;
  LsDivWalk at(LS_GRID_START, LS_GRID_STEP, plane > 0 ? plane : 1);  // (image, pixel of the plane) of i; no plane without z
  for (long long i = LS_GRID_START; i < pixels; i += LS_GRID_STEP, at.next()) {
    int y = ls_label_class(labels[i], K, ignoreIndex);
    if (y == -2) { atomicMin(badPixel, (unsigned long long)i); continue; }
    if (y < 0) continue;
    double w = weights ? (double)weights[y] : 1.0;
    weight += w;
    if (withLoss) loss += w * ls_ce_nll_t(z, dt, at.q * K * plane + at.r, plane, K, y);
  }
  loss = ls_block_sum(loss, sh);
  weight = ls_block_sum(weight, sh);
  if (threadIdx.x == 0) { partials[2 * blockIdx.x] = loss; partials[2 * blockIdx.x + 1] = weight; }
}

// One block of 256: result[0] = loss sum, result[1] = weight sum (double); lossOut (nullable) = mean.
extern "C" __global__ void ls_ce_finalize_k(int blocks, const double* partials, double* result, float* lossOut) {
  __shared__ double sh[256];
  double l = 0, w = 0;
  for (int b = threadIdx.x; b < blocks; b += blockDim.x) { l += partials[2 * b]; w += partials[2 * b + 1]; }
  l = ls_block_sum(l, sh);
  w = ls_block_sum(w, sh);
  if (threadIdx.x == 0) {
    result[0] = l;
    result[1] = w;
    if (lossOut) lossOut[0] = w > 0 ? (float)(l / w) : 0.f;
  }
}

// dz = dLoss * w[y] / W * (softmax(z) - onehot(y)); 0 for ignored pixels or W = 0. One thread per pixel.
extern "C" __global__ void ls_ce_backward_k(long long pixels, int K, long long plane, const void* z, const float* labels,
                                            int ignoreIndex, const float* weights, const float* dLoss,
                                            const double* result, void* dz, int dt) {
  double total = result[1];
  double scale = total > 0 ? dLoss[0] / total : 0.0;
  LsDivWalk at(LS_GRID_START, LS_GRID_STEP, plane);
  for (long long i = LS_GRID_START; i < pixels; i += LS_GRID_STEP, at.next()) {
    long long base = at.q * K * plane + at.r;
    int y = ls_label_class(labels[i], K, ignoreIndex);
    ls_ce_pixel_backward_t(z, dz, dt, base, plane, K, y, scale, y >= 0 && weights ? (double)weights[y] : 1.0);
  }
}

// Fused bilinear upsample + cross-entropy (Note [Fused upsample loss on the GPU] in upsample_loss.cuh): thin wrappers
// around the bodies the host build runs over the same grids (HostUpsampleLossGridTest). 256 threads per block; grids
// and the geometry arguments (LsUpCeGrid's fields in order) from backend/cuda/UpLossGrid.java.
#include "upsample_loss.cuh"

#define LS_UPCE_GRID_PARAMS                                                                                              \
  int N, int K, int h, int w, int outH, int outW, int alignCorners, int ignoreIndex, int rowBlocks, int segC, int segs, \
      int kg, int groups, int span
#define LS_UPCE_GRID LsUpCeGrid{N, K, h, w, outH, outW, alignCorners, ignoreIndex, rowBlocks, segC, segs, kg, groups, span}

// Grid (rowBlocks, 1); then ls_ce_finalize_k over the rowBlocks partials.
// dt: the storage type of z (and of dz below; half.cuh).
extern "C" __global__ void ls_up_ce_partial_k(LS_UPCE_GRID_PARAMS, const void* z, const float* labels, const float* weights,
                                              double* partials, unsigned long long* bad, int dt) {
  __shared__ LsUpCeFwdShared sh;
  ls_upce_partial_body(LsDevThread(), sh, LS_UPCE_GRID, z, labels, weights, partials, bad, dt);
}

// Grid (h * segs, N * groups); result = ls_ce_finalize_k's (result[1]: the valid pixels' weight total).
extern "C" __global__ void __launch_bounds__(LS_UPCE_BLOCK, 2) ls_up_ce_backward_k(LS_UPCE_GRID_PARAMS, const void* z, const float* labels, const float* weights,
                                               const float* dLoss, const double* result, void* dz, int dt) {
  __shared__ LsUpCeBwdShared sh;
  ls_upce_backward_body(LsDevThread(), sh, LS_UPCE_GRID, z, labels, weights, dLoss, result, dz, dt);
}

// Grid (min(N * outH, 2^31 - 1), 1): the eval mask of the upsampled logits, classes in float slots.
extern "C" __global__ void ls_up_argmax_k(LS_UPCE_GRID_PARAMS, const void* z, float* out, int dt) {
  ls_upce_argmax_body(LsDevThread(), LS_UPCE_GRID, z, out, dt);
}
