// Shape kernels: bilinear resize forward and backward, global average pool forward and backward,
// channel copy (concat / channel_slice), argmax. Reference: ops/shape/*.java, ops/loss/Argmax.java.
// The resize backward gathers (each dX element sums the dY elements whose taps reach it, found by
// binary search over the monotone taps): deterministic, no atomics.
#include "common.cuh"
#include "half.cuh"
#include "resize.cuh"

extern "C" __global__ void ls_resize_forward_k(long long total, int inH, int inW, int outH, int outW, int alignCorners,
                                               const float* x, float* y) {
  LS_GRID_STRIDE(i, total) {
    int j = (int)(i % outW);
    int r = (int)((i / outW) % outH);
    long long p = i / ((long long)outW * outH);
    y[i] = ls_resize_at(x + p * inH * inW, inH, inW, outH, outW, r, j, alignCorners);
  }
}

extern "C" __global__ void ls_resize_backward_k(long long total, int inH, int inW, int outH, int outW, int alignCorners,
                                                const float* dy, float* dx) {
  LS_GRID_STRIDE(i, total) {
    int kx = (int)(i % inW);
    int ky = (int)((i / inW) % inH);
    long long p = i / ((long long)inW * inH);
    dx[i] = ls_resize_backward_at(dy + p * outH * outW, inH, inW, outH, outW, ky, kx, alignCorners);
  }
}

// One block per (n, c) plane; 256 threads.
extern "C" __global__ void ls_gap_forward_k(int HW, const float* x, float* y) {
  __shared__ double sh[256];
  const float* p = x + (long long)blockIdx.x * HW;
  double s = 0;
  for (int i = threadIdx.x; i < HW; i += blockDim.x) s += p[i];
  s = ls_block_sum(s, sh);
  if (threadIdx.x == 0) y[blockIdx.x] = (float)(s / HW);
}

extern "C" __global__ void ls_gap_backward_k(long long total, int HW, const float* dy, float* dx) {
  LsDivWalk p(LS_GRID_START, LS_GRID_STEP, HW);  // p.q: the plane of i
  for (long long i = LS_GRID_START; i < total; i += LS_GRID_STEP, p.next()) dx[i] = (float)((double)dy[p.q] / HW);
}

// The same two on data of storage type dt (half.cuh; Note [Mixed precision]): loaded to float, stored rounded once.
extern "C" __global__ void ls_gap_forward_t_k(int HW, const void* x, void* y, int dt) {
  __shared__ double sh[256];
  long long base = (long long)blockIdx.x * HW;
  double s = 0;
  for (int i = threadIdx.x; i < HW; i += blockDim.x) s += ls_load(x, dt, base + i);
  s = ls_block_sum(s, sh);
  if (threadIdx.x == 0) ls_store(y, dt, blockIdx.x, (float)(s / HW));
}

extern "C" __global__ void ls_gap_backward_t_k(long long total, int HW, const void* dy, void* dx, int dt) {
  LsDivWalk p(LS_GRID_START, LS_GRID_STEP, HW);
  for (long long i = LS_GRID_START; i < total; i += LS_GRID_STEP, p.next()) ls_store(dx, dt, i, (float)((double)ls_load(dy, dt, p.q) / HW));
}

// dst[n, dstStart + c] = src[n, srcStart + c] for c < count: planes of HW elements of type E (4 or 2 bytes: a copy,
// exact in every storage type).
template <class E>
__device__ void ls_copy_channels(long long total, int HW, int count, int srcC, int srcStart, int dstC, int dstStart,
                                 const E* src, E* dst) {
  LsDivWalk p(LS_GRID_START, LS_GRID_STEP, HW);  // (plane, k) of i
  LsDivWalk nc(p.q, p.dq, count);                // (n, c) of the plane, advanced with it
  for (long long i = LS_GRID_START; i < total; i += LS_GRID_STEP) {
    long long n = nc.q;
    long long c = nc.r;
    long long k = p.r;
    dst[(n * dstC + dstStart + c) * HW + k] = src[(n * srcC + srcStart + c) * HW + k];
    bool carry = p.next();
    nc.next();
    if (carry) nc.inc();
  }
}

extern "C" __global__ void ls_copy_channels_k(long long total, int HW, int count, int srcC, int srcStart, int dstC,
                                              int dstStart, const float* src, float* dst) {
  ls_copy_channels(total, HW, count, srcC, srcStart, dstC, dstStart, src, dst);
}

// The same for 16-bit storage (Note [Mixed precision]: bf16 / fp16 activations).
extern "C" __global__ void ls_copy_channels16_k(long long total, int HW, int count, int srcC, int srcStart, int dstC,
                                                int dstStart, const unsigned short* src, unsigned short* dst) {
  ls_copy_channels(total, HW, count, srcC, srcStart, dstC, dstStart, src, dst);
}

// labels [N, H, W] (float slots, see Note [Integer tensors in float slots]) = argmax over K; first max wins, NaN never wins.
// dt: the storage type of z (half.cuh).
extern "C" __global__ void ls_argmax_k(long long pixels, int K, int HW, const void* z, float* out, int dt) {
  LsDivWalk w(LS_GRID_START, LS_GRID_STEP, HW);
  for (long long i = LS_GRID_START; i < pixels; i += LS_GRID_STEP, w.next()) {
    long long n = w.q;
    int k0 = (int)w.r;
    long long p = n * K * HW + k0;
    int best = 0;
    float bv = ls_load(z, dt, p);
    for (int k = 1; k < K; k++) {
      float v = ls_load(z, dt, p + (long long)k * HW);
      if (v > bv || (isnan(bv) && !isnan(v))) { best = k; bv = v; }
    }
    out[i] = (float)best;
  }
}

// Resize by row bands (Note [Resize by row bands] in resize_grid.cuh): bodies the host build runs over the same
// grids (HostResizeGridTest). 256 threads per block; ops/shape/ShapeCuda picks these or the kernels above.
#include "resize_grid.cuh"

// Grid (ceil(outH / LS_RS_ROWS), min(planes, 65535)).
// dt: the storage type of x and y (half.cuh).
extern "C" __global__ void ls_resize_rows_k(int planes, int inH, int inW, int outH, int outW, int alignCorners, const void* x,
                                            void* y, int dt) {
  __shared__ LsResizeFwdShared sh;
  ls_resize_fwd_body(LsDevThread(), sh, planes, inH, inW, outH, outW, alignCorners, x, y, dt);
}

// Grid (inH, min(planes, 65535)); inW <= LS_RS_PER * 256, outW <= LS_RS_STAGE.
extern "C" __global__ void ls_resize_backward_rows_k(int planes, int inH, int inW, int outH, int outW, int alignCorners,
                                                     const void* dy, void* dx, int dt) {
  __shared__ LsResizeBwdShared sh;
  ls_resize_bwd_body(LsDevThread(), sh, planes, inH, inW, outH, outW, alignCorners, dy, dx, dt);
}
