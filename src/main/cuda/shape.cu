// Shape kernels: bilinear resize forward and backward, global average pool forward and backward,
// channel copy (concat / channel_slice), argmax. Reference: ops/shape/*.java, ops/loss/Argmax.java.
// The resize backward gathers (each dX element sums the dY elements whose taps reach it, found by
// binary search over the monotone taps): deterministic, no atomics.
#include "common.cuh"
#include "resize.cuh"

extern "C" __global__ void ls_resize_forward_k(long long total, int inH, int inW, int outH, int outW, int alignCorners,
                                               const float* x, float* y) {
  LS_GRID_STRIDE(i, total) {
    int j = (int)(i % outW);
    int r = (int)((i / outW) % outH);
    long long p = i / ((long long)outW * outH);
    LsTap th = ls_bilinear_tap(r, inH, outH, alignCorners);
    LsTap tw = ls_bilinear_tap(j, inW, outW, alignCorners);
    const float* xp = x + p * inH * inW;
    double top = tw.w0 * xp[th.i0 * inW + tw.i0] + tw.w1 * xp[th.i0 * inW + tw.i1];
    double bottom = tw.w0 * xp[th.i1 * inW + tw.i0] + tw.w1 * xp[th.i1 * inW + tw.i1];
    y[i] = (float)(th.w0 * top + th.w1 * bottom);
  }
}

extern "C" __global__ void ls_resize_backward_k(long long total, int inH, int inW, int outH, int outW, int alignCorners,
                                                const float* dy, float* dx) {
  LS_GRID_STRIDE(i, total) {
    int kx = (int)(i % inW);
    int ky = (int)((i / inW) % inH);
    long long p = i / ((long long)inW * inH);
    const float* g = dy + p * outH * outW;
    int r0 = ls_first_tap_at_least(ky - 1, inH, outH, alignCorners);
    int c0 = ls_first_tap_at_least(kx - 1, inW, outW, alignCorners);
    double acc = 0;
    for (int r = r0; r < outH; r++) {
      LsTap th = ls_bilinear_tap(r, inH, outH, alignCorners);
      if (th.i0 > ky) break;
      double wh = ls_tap_weight(th, ky);
      if (wh == 0.0) continue;
      double row = 0;
      for (int c = c0; c < outW; c++) {
        LsTap tw = ls_bilinear_tap(c, inW, outW, alignCorners);
        if (tw.i0 > kx) break;
        row += ls_tap_weight(tw, kx) * g[r * outW + c];
      }
      acc += wh * row;
    }
    dx[i] = (float)acc;
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
  LS_GRID_STRIDE(i, total) dx[i] = (float)((double)dy[i / HW] / HW);
}

// dst[n, dstStart + c] = src[n, srcStart + c] for c < count: planes of HW elements.
extern "C" __global__ void ls_copy_channels_k(long long total, int HW, int count, int srcC, int srcStart, int dstC,
                                              int dstStart, const float* src, float* dst) {
  LS_GRID_STRIDE(i, total) {
    long long plane = i / HW;
    int k = (int)(i % HW);
    int c = (int)(plane % count);
    long long n = plane / count;
    dst[(n * dstC + dstStart + c) * HW + k] = src[(n * srcC + srcStart + c) * HW + k];
  }
}

// labels [N, H, W] (float slots, see Note [Integer tensors in float slots]) = argmax over K; first max wins, NaN never wins.
extern "C" __global__ void ls_argmax_k(long long pixels, int K, int HW, const float* z, float* out) {
  LS_GRID_STRIDE(i, pixels) {
    long long n = i / HW;
    int k0 = (int)(i % HW);
    const float* p = z + n * K * HW + k0;
    int best = 0;
    float bv = p[0];
    for (int k = 1; k < K; k++) {
      float v = p[(long long)k * HW];
      if (v > bv || (isnan(bv) && !isnan(v))) { best = k; bv = v; }
    }
    out[i] = (float)best;
  }
}
