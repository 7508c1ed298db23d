// Depthwise convolution kernels written for bandwidth: the bodies, written once for the GPU (conv.cu wraps them in
// __global__ functions) and the host (src/main/cpp/hostgrid.cpp runs them over the same grid, HostDwGridTest).
// Reference: ops/conv/DepthwiseKernels.java (Conv2d with groups == input channels, ActConv2d, their gradients).
//
// Note [Depthwise kernels by tiles]: a depthwise convolution reads each input value kh*kw times and does 2 FLOPs per
// read, so it is bound by memory traffic, not arithmetic; the old kernels (one thread per output reading its taps
// from global memory, and the filter gradient as one block per (channel, tap) reading dY and z kh*kw times over)
// moved up to 9x the bytes. Here:
//  - Forward and data gradient run a 2-D grid: blockIdx.x = a tile of one plane (tileH x tileW outputs, or inputs
//    for the data gradient), blockIdx.y = the plane (striding past 65,535). The block stages the rectangle of the
//    other side that the tile reads (forward: input rows/cols with the activation applied as they are read, act(0) =
//    0 keeps the zero padding; data gradient: the dY rectangle of every output channel of the input channel) into
//    shared memory once, with coalesced loads, then each thread computes a column of the tile from shared memory.
//    Every global value is read once per tile plus the tile's halo. No 64-bit division anywhere; 32-bit ones once
//    per block or thread, not per element.
//  - Each output element adds its taps in the reference's order (ky, kx ascending; for the data gradient, output
//    channel j first), each product and sum rounded once (ls_fmul, ls_fadd), skipping taps in the padding, so the
//    results repeat to the bit on every schedule, and equal the old one-thread-per-output kernels.
//  - The filter gradient is a two-level reduction (as Note [Two-level norm reductions]): one set per output channel
//    over its N planes of dY, cut into bands of whole output rows (units); `chunks` blocks per set on grid x take
//    contiguous ranges of units, each thread keeps the kh*kw (<= 9) tap sums in float registers (fmaf of dY and
//    act(z) at the tap), walking its elements without division; the block adds them with a fixed tree, the block
//    that draws the last ticket adds the set's partials in chunk order in double. dY and z are read once.
// The grids are decided in backend/cuda/DwGrid.java from the shape only, so the bits repeat on every device.
#pragma once
#include "elementwise.cuh"
#include "grid.cuh"
#include "half.cuh"

// z, y, dy, dx may be 16-bit (storage type dt, half.cuh; Note [Mixed precision]): each value loaded to float, the
// weights rounded to dt as the reference's 16-bit convolutions use them (Op.roundedOperands), the same arithmetic, and
// each stored y or dx rounded once; dW stays float32. dt = 0 is the float32 kernel, bit for bit.

#define LS_DW_BLOCK 256
// Floats of the staged rectangle (24 KiB of shared memory).
#define LS_DW_STAGE 6144
// Most weights a tile block stages (mult * kh * kw).
#define LS_DW_WMAX 64
// The filter gradient's register sums: kernels up to 3x3.
#define LS_DW_KMAX 3
#define LS_DW_TAPS 9

#ifdef __CUDACC__
#define LS_UNROLL _Pragma("unroll")
#else
#define LS_UNROLL
#endif

// The convolution and the grid (DwGrid.java writes these fields in this order).
struct LsDwGrid {
  int N, C, mult, H, W, Hout, Wout, kh, kw, sH, sW, pH, pW, dilH, dilW;
  int act;                                             // 0: none; 1: clamp to [0, cap] each input value read
  int tileH, tileW, stageH, stageW, tilesX, planes;    // forward / data gradient (tileW a power of two <= 64)
  int bandRows, bands, chunks;                         // filter gradient
};

struct LsDwTileShared {
  float stage[LS_DW_STAGE];
  float w[LS_DW_WMAX];
};

struct LsDwFilterShared {
  float red[LS_DW_TAPS][LS_DW_BLOCK];
  int last;
};

// ceil(a / b) for b > 0 and any sign of a.
__host__ __device__ inline int ls_ceil_div(int a, int b) {
  int q = a / b;
  return (q * b < a) ? q + 1 : q;
}

// o = n / s where s divides n exactly and 0 <= o < limit; false otherwise (a tap that lands between outputs).
__host__ __device__ inline bool ls_exact_out(int n, int s, int limit, int& o) {
  if (n < 0) return false;
  if (s == 1) {
    o = n;
  } else if (s == 2) {
    if (n & 1) return false;
    o = n >> 1;
  } else {
    o = n / s;
    if (o * s != n) return false;
  }
  return o < limit;
}

// A tile block's place: the tile's first row and column (r0, c0) in its plane, and the column and first row this
// thread computes, the rows it steps by (tileW is a power of two <= 64 <= bdim).
struct LsDwTile {
  int r0, c0, col, row0, rstep;
  template <class T>
  __host__ __device__ LsDwTile(const T& t, const LsDwGrid& g) {
    int ty = t.bx() / g.tilesX;
    r0 = ty * g.tileH;
    c0 = (t.bx() - ty * g.tilesX) * g.tileW;
    col = t.tx() & (g.tileW - 1);
    row0 = t.tx() / g.tileW;
    rstep = t.bdim() / g.tileW;
  }
};

// Forward: y[n, co] = bias[co] + sum over taps of w[co, tap] * act(z[n, co / mult] at the tap). Grid (tiles of the
// output plane, planes n * C * mult).
template <class T>
__host__ __device__ inline void ls_dw_forward_body(const T& t, LsDwTileShared& sh, const LsDwGrid& g, float cap, const void* z,
                                                   const float* w, const float* bias, void* y, int dt) {
  int cout = g.C * g.mult;
  int taps = g.kh * g.kw;
  LsDwTile tile(t, g);
  int oh0 = tile.r0, col = tile.col, row0 = tile.row0, rstep = tile.rstep;
  int ih0 = oh0 * g.sH - g.pH;
  int iw0 = tile.c0 * g.sW - g.pW;
  int ow0 = tile.c0;
  int stageN = g.stageH * g.stageW;
  long long inPlane = (long long)g.H * g.W;
  long long outPlane = (long long)g.Hout * g.Wout;
  for (int plane = t.by(); plane < g.planes; plane += t.gy()) {
    int n = plane / cout;
    int co = plane - n * cout;
    long long zp = ((long long)n * g.C + co / g.mult) * inPlane;
    if (t.tx() < taps) sh.w[t.tx()] = ls_round(w[(long long)co * taps + t.tx()], dt);
    LsWalk<int> s(t.tx(), t.bdim(), g.stageW);  // (row, column) of staged element i
    for (int i = t.tx(); i < stageN; i += t.bdim(), s.next()) {
      int ih = ih0 + s.q;
      int iw = iw0 + s.r;
      float v = 0.f;
      if (ih >= 0 && ih < g.H && iw >= 0 && iw < g.W) {
        v = ls_load(z, dt, zp + (long long)ih * g.W + iw);
        if (g.act) v = ls_act_forward(v, cap);
      }
      sh.stage[i] = v;
    }
    t.sync();
    float b = bias ? bias[co] : 0.f;
    int ow = ow0 + col;
    long long yp = (long long)plane * outPlane;
    for (int r = row0; r < g.tileH; r += rstep) {
      int oh = oh0 + r;
      if (oh >= g.Hout || ow >= g.Wout) continue;
      float acc = b;
      for (int ky = 0; ky < g.kh; ky++) {
        int sr = r * g.sH + ky * g.dilH;
        int ih = ih0 + sr;
        if (ih < 0 || ih >= g.H) continue;
        const float* srow = sh.stage + sr * g.stageW;
        for (int kx = 0; kx < g.kw; kx++) {
          int sc = col * g.sW + kx * g.dilW;
          int iw = iw0 + sc;
          if (iw < 0 || iw >= g.W) continue;
          acc = ls_fadd(acc, ls_fmul(sh.w[ky * g.kw + kx], srow[sc]));
        }
      }
      ls_store(y, dt, yp + (long long)oh * g.Wout + ow, acc);
    }
    t.sync();  // the next plane overwrites the stage
  }
}

// Data gradient: dx[n, ci] = sum over j < mult, taps of w[ci * mult + j, tap] * dy[n, ci * mult + j] at the output the
// tap reaches (none between strided outputs or past the edges). Grid (tiles of the input plane, planes n * C).
template <class T>
__host__ __device__ inline void ls_dw_backward_data_body(const T& t, LsDwTileShared& sh, const LsDwGrid& g, const void* dy,
                                                         const float* w, void* dx, int dt) {
  int cout = g.C * g.mult;
  int taps = g.kh * g.kw;
  int mw = g.mult * taps;
  LsDwTile tile(t, g);
  int ih0 = tile.r0, iw0 = tile.c0, col = tile.col, row0 = tile.row0, rstep = tile.rstep;
  int ohLo = ls_ceil_div(ih0 + g.pH - (g.kh - 1) * g.dilH, g.sH);  // the first output any tap reaches
  int owLo = ls_ceil_div(iw0 + g.pW - (g.kw - 1) * g.dilW, g.sW);
  int stageN = g.stageH * g.stageW;
  long long inPlane = (long long)g.H * g.W;
  long long outPlane = (long long)g.Hout * g.Wout;
  for (int plane = t.by(); plane < g.planes; plane += t.gy()) {
    int n = plane / g.C;
    int ci = plane - n * g.C;
    if (t.tx() < mw) sh.w[t.tx()] = ls_round(w[(long long)ci * mw + t.tx()], dt);
    for (int j = 0; j < g.mult; j++) {
      long long dyp = ((long long)n * cout + (long long)ci * g.mult + j) * outPlane;
      LsWalk<int> s(t.tx(), t.bdim(), g.stageW);  // (row, column) of staged element i
      for (int i = t.tx(); i < stageN; i += t.bdim(), s.next()) {
        int oh = ohLo + s.q;
        int ow = owLo + s.r;
        sh.stage[j * stageN + i] = (oh >= 0 && oh < g.Hout && ow >= 0 && ow < g.Wout) ? ls_load(dy, dt, dyp + (long long)oh * g.Wout + ow) : 0.f;
      }
    }
    t.sync();
    int iw = iw0 + col;
    long long dxp = (long long)plane * inPlane;
    for (int r = row0; r < g.tileH; r += rstep) {
      int ih = ih0 + r;
      if (ih >= g.H || iw >= g.W) continue;
      float acc = 0.f;
      for (int j = 0; j < g.mult; j++) {
        for (int ky = 0; ky < g.kh; ky++) {
          int oh;
          if (!ls_exact_out(ih + g.pH - ky * g.dilH, g.sH, g.Hout, oh)) continue;
          const float* srow = sh.stage + j * stageN + (oh - ohLo) * g.stageW;
          for (int kx = 0; kx < g.kw; kx++) {
            int ow;
            if (!ls_exact_out(iw + g.pW - kx * g.dilW, g.sW, g.Wout, ow)) continue;
            acc = ls_fadd(acc, ls_fmul(sh.w[j * taps + ky * g.kw + kx], srow[ow - owLo]));
          }
        }
      }
      ls_store(dx, dt, dxp + (long long)ih * g.W + iw, acc);
    }
    t.sync();  // the next plane overwrites the stage and weights
  }
}

// Filter gradient: dW[co, tap] = sum over (n, oh, ow) of dy[n, co, oh, ow] * act(z[n, co / mult] at the tap).
// Grid (chunks, min(C * mult, 65535)); partials [C * mult][chunks][LS_DW_TAPS], counters [C * mult] (0 before and
// after the launch). Kernels up to LS_DW_KMAX x LS_DW_KMAX.
template <class T>
__host__ __device__ inline void ls_dw_filter_body(const T& t, LsDwFilterShared& sh, const LsDwGrid& g, float cap, const void* z,
                                                  const void* dy, float* dW, float* partials, unsigned* counters, int dt) {
  int cout = g.C * g.mult;
  int taps = g.kh * g.kw;
  int units = g.N * g.bands;
  int u0 = (int)((long long)units * t.bx() / g.chunks);
  int u1 = (int)((long long)units * (t.bx() + 1) / g.chunks);
  long long inPlane = (long long)g.H * g.W;
  long long outPlane = (long long)g.Hout * g.Wout;
  for (int set = t.by(); set < cout; set += t.gy()) {
    float s[LS_DW_TAPS];
    LS_UNROLL
    for (int k = 0; k < LS_DW_TAPS; k++) s[k] = 0.f;
    for (int u = u0; u < u1; u++) {
      int n = u / g.bands;
      int r0 = (u - n * g.bands) * g.bandRows;
      int r1 = r0 + g.bandRows < g.Hout ? r0 + g.bandRows : g.Hout;
      long long dyp = ((long long)n * cout + set) * outPlane;
      long long zp = ((long long)n * g.C + set / g.mult) * inPlane;
      LsWalk<int> e(t.tx(), t.bdim(), g.Wout);  // (row in the band, column) of the thread's element
      for (int oh = r0 + e.q; oh < r1; oh = r0 + e.q) {
        int ow = e.r;
        float gv = ls_load(dy, dt, dyp + (long long)oh * g.Wout + ow);
        int ihb = oh * g.sH - g.pH;
        int iwb = ow * g.sW - g.pW;
        LS_UNROLL
        for (int ky = 0; ky < LS_DW_KMAX; ky++) {
          int ih = ihb + ky * g.dilH;
          if (ky >= g.kh || ih < 0 || ih >= g.H) continue;
          long long zrow = zp + (long long)ih * g.W;
          LS_UNROLL
          for (int kx = 0; kx < LS_DW_KMAX; kx++) {
            int iw = iwb + kx * g.dilW;
            if (kx >= g.kw || iw < 0 || iw >= g.W) continue;
            float v = ls_load(z, dt, zrow + iw);
            if (g.act) v = ls_act_forward(v, cap);
            s[ky * LS_DW_KMAX + kx] = fmaf(gv, v, s[ky * LS_DW_KMAX + kx]);
          }
        }
        e.next();
      }
    }
    LS_UNROLL
    for (int k = 0; k < LS_DW_TAPS; k++) sh.red[k][t.tx()] = s[k];
    t.sync();
    for (int st = t.bdim() / 2; st > 0; st >>= 1) {
      if (t.tx() < st) {
        LS_UNROLL
        for (int k = 0; k < LS_DW_TAPS; k++) sh.red[k][t.tx()] += sh.red[k][t.tx() + st];
      }
      t.sync();
    }
    if (g.chunks == 1) {
      if (t.tx() < taps) dW[(long long)set * taps + t.tx()] = sh.red[(t.tx() / g.kw) * LS_DW_KMAX + t.tx() % g.kw][0];
    } else {
      if (t.tx() == 0) {
        float* p = partials + ((long long)set * g.chunks + t.bx()) * LS_DW_TAPS;
        for (int k = 0; k < LS_DW_TAPS; k++) p[k] = sh.red[k][0];
        sh.last = t.ticket(counters + set) == (unsigned)(g.chunks - 1);
      }
      t.sync();
      if (sh.last && t.tx() < taps) {
        int k = (t.tx() / g.kw) * LS_DW_KMAX + t.tx() % g.kw;
        const float* p = partials + (long long)set * g.chunks * LS_DW_TAPS + k;
        double a = 0;
        for (int j = 0; j < g.chunks; j++) a += t.load_cg(p + (long long)j * LS_DW_TAPS);
        dW[(long long)set * taps + t.tx()] = (float)a;
      }
      if (sh.last && t.tx() == 0) counters[set] = 0;
    }
    t.sync();  // the next set overwrites red and last
  }
}
