// Fused ReLU/ReLU6 + depthwise convolution (PaddlePaddle's fuse_relu_before_depthwise_conv): forward and
// backward filter; the activation is applied to each input value as it is read (conv.cuh). Backward data is
// the stock conv2d_backward_data (cuDNN) followed by relu_backward on z. Reference: ops/conv/ActConv2d*.java
// (DepthwiseKernels.java). Check: mvn test -Dgroups=gpu (CudaOpsParityTest); the per-element math also runs on
// the CPU in HostKernelMathTest.
#include "common.cuh"
#include "conv.cuh"

// One thread per output element of y [N, C*mult, Hout, Wout]; output channel co reads input channel co / mult.
// bias may be null.
extern "C" __global__ void ls_act_dw_forward_k(long long total, int C, int mult, int H, int W, int Hout, int Wout, int kh,
                                               int kw, int strideH, int strideW, int padH, int padW, int dilH, int dilW,
                                               float cap, const float* z, const float* w, const float* bias, float* y) {
  LsDwGeom g = {H, W, Hout, Wout, kh, kw, strideH, strideW, padH, padW, dilH, dilW};
  int cout = C * mult;
  LS_GRID_STRIDE(i, total) {
    int ow = (int)(i % Wout);
    int oh = (int)((i / Wout) % Hout);
    long long plane = i / ((long long)Wout * Hout);
    int co = (int)(plane % cout);
    long long n = plane / cout;
    const float* zp = z + (n * C + co / mult) * (long long)H * W;
    y[i] = ls_act_dw_output(zp, w + (long long)co * kh * kw, bias ? bias[co] : 0.f, g, oh, ow, cap);
  }
}

// dW [C*mult, 1, kh, kw]: one block (256 threads) per (output channel, tap), summing dy * act(z) over (N, Hout, Wout)
// in double with a fixed tree (deterministic).
extern "C" __global__ void ls_act_dw_filter_k(int N, int C, int mult, int H, int W, int Hout, int Wout, int kh, int kw,
                                              int strideH, int strideW, int padH, int padW, int dilH, int dilW, float cap,
                                              const float* z, const float* dy, float* dW) {
  __shared__ double red[256];
  LsDwGeom g = {H, W, Hout, Wout, kh, kw, strideH, strideW, padH, padW, dilH, dilW};
  int taps = kh * kw;
  int co = blockIdx.x / taps;
  int t = blockIdx.x % taps;
  int cout = C * mult;
  long long per = (long long)Hout * Wout;
  double s = 0;
  for (int n = 0; n < N; n++) {
    const float* zp = z + ((long long)n * C + co / mult) * H * W;
    const float* dp = dy + ((long long)n * cout + co) * per;
    for (long long j = threadIdx.x; j < per; j += blockDim.x) {
      s += ls_act_dw_filter_term(zp, dp[j], g, (int)(j / Wout), (int)(j % Wout), t / kw, t % kw, cap);
    }
  }
  s = ls_block_sum(s, red);
  if (threadIdx.x == 0) dW[blockIdx.x] = (float)s;
}

// Depthwise convolutions by tiles (Note [Depthwise kernels by tiles] in dw.cuh): thin wrappers around the bodies the
// host build runs over the same grids (HostDwGridTest). Launch with LS_DW_BLOCK (256) threads; grids and the
// geometry arguments (LS_DW_GRID_PARAMS, in LsDwGrid's field order) from backend/cuda/DwGrid.java.
#include "dw.cuh"

#define LS_DW_GRID_PARAMS                                                                                               \
  int N, int C, int mult, int H, int W, int Hout, int Wout, int kh, int kw, int sH, int sW, int pH, int pW, int dilH, int dilW, \
      int act, int tileH, int tileW, int stageH, int stageW, int tilesX, int planes, int bandRows, int bands, int chunks
#define LS_DW_GRID                                                                                                         \
  LsDwGrid{N, C, mult, H, W, Hout, Wout, kh, kw, sH, sW, pH, pW, dilH, dilW, act, tileH, tileW, stageH, stageW, tilesX, planes, \
           bandRows, bands, chunks}

// Grid (tiles of the output plane, min(N * C * mult, 65535)). bias may be null.
// dt: the storage type of z and y (dw.cuh).
extern "C" __global__ void ls_dw_forward_k(LS_DW_GRID_PARAMS, float cap, const void* z, const float* w, const float* bias,
                                           void* y, int dt) {
  __shared__ LsDwTileShared sh;
  ls_dw_forward_body(LsDevThread(), sh, LS_DW_GRID, cap, z, w, bias, y, dt);
}

// Grid (tiles of the input plane, min(N * C, 65535)).
extern "C" __global__ void ls_dw_backward_data_k(LS_DW_GRID_PARAMS, const void* dy, const float* w, void* dx, int dt) {
  __shared__ LsDwTileShared sh;
  ls_dw_backward_data_body(LsDevThread(), sh, LS_DW_GRID, dy, w, dx, dt);
}

// Grid (chunks, min(C * mult, 65535)); partials and counters in the norm scratch (CudaBackend.normScratch).
extern "C" __global__ void ls_dw_filter_k(LS_DW_GRID_PARAMS, float cap, const void* z, const void* dy, float* dW,
                                          float* partials, unsigned* counters, int dt) {
  __shared__ LsDwFilterShared sh;
  ls_dw_filter_body(LsDevThread(), sh, LS_DW_GRID, cap, z, dy, dW, partials, counters, dt);
}
