// Per-element math of the fused ReLU/ReLU6 + depthwise convolution (ops/conv/ActConv2d.java,
// ActConv2dBackwardFilter.java, reference DepthwiseKernels.java), shared by conv.cu and the host
// build (src/main/cpp/hostmath.cpp, HostKernelMathTest). The activation is applied to each input value as
// it is read, so act(z) never exists as a tensor (act(0) = 0 keeps the zero padding).
#pragma once
#ifndef __CUDACC__
#define __host__
#define __device__
#endif
#include "elementwise.cuh"

// Sizes of one depthwise convolution (output sizes come from ShapeMath on the Java side, never recomputed here).
struct LsDwGeom {
  int H, W, Hout, Wout, kh, kw, strideH, strideW, padH, padW, dilH, dilW;
};

// Input index of output index o and tap k along one axis (ConvGeometry.rowOffset / colOffset).
__host__ __device__ inline int ls_conv_in_index(int o, int k, int stride, int pad, int dil) { return o * stride + k * dil - pad; }

// y[oh, ow] of one output channel: bias + sum over taps (ky, kx in order) of w * act(z), float accumulation
// in the reference's order (DepthwiseKernels.forward). z: the input plane [H, W]; w: the channel's kh*kw taps.
__host__ __device__ inline float ls_act_dw_output(const float* z, const float* w, float bias, LsDwGeom g, int oh, int ow,
                                                  float cap) {
  float acc = bias;
  for (int ky = 0; ky < g.kh; ky++) {
    int ih = ls_conv_in_index(oh, ky, g.strideH, g.padH, g.dilH);
    if (ih < 0 || ih >= g.H) continue;
    for (int kx = 0; kx < g.kw; kx++) {
      int iw = ls_conv_in_index(ow, kx, g.strideW, g.padW, g.dilW);
      if (iw < 0 || iw >= g.W) continue;
      // two roundings (no fused multiply-add), as the reference: the same bits on the GPU, host and JVM
      acc = ls_fadd(acc, ls_fmul(w[ky * g.kw + kx], ls_act_forward(z[(long long)ih * g.W + iw], cap)));
    }
  }
  return acc;
}

// Term of dW[tap (ky, kx)] from output position (oh, ow): dy * act(z at the tap's input), 0 in the padding.
__host__ __device__ inline float ls_act_dw_filter_term(const float* z, float dy, LsDwGeom g, int oh, int ow, int ky, int kx,
                                                       float cap) {
  int ih = ls_conv_in_index(oh, ky, g.strideH, g.padH, g.dilH);
  int iw = ls_conv_in_index(ow, kx, g.strideW, g.padW, g.dilW);
  if (ih < 0 || ih >= g.H || iw < 0 || iw >= g.W) return 0.f;
  return ls_fmul(dy, ls_act_forward(z[(long long)ih * g.W + iw], cap));
}
