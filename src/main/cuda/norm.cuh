// Batch norm and group norm: the kernel bodies, written once for the GPU (norm.cu wraps them in __global__
// functions) and the host (src/main/cpp/hostmath.cpp runs them over the same grid with hostgrid.h, checked by
// HostKernelGridTest on every CI run). Reference: ops/norm/BatchNorm*.java, GroupNorm*.java, ops/conv/BiasGrad.java.
//
// Note [Two-level norm reductions]: every norm reduction sums over a SET of whole planes (HW contiguous floats):
// a BN channel = the N planes (n, c); a GN (sample, group) = its C/groups contiguous planes; a GN backward plane
// = one plane. A 2-D grid runs `chunks` blocks per set (blockIdx.x) over sets (blockIdx.y, striding past 65535).
// A set's planes are cut into units of at most segLen elements (plane k, segment j); block x of a set takes the
// units [U*x/chunks, U*(x+1)/chunks), one 32-bit division per unit, none per element; each thread accumulates
// float sums over its elements (float4 loads where `vec`), the block sums them with a fixed tree, and writes
// one partial. The block that draws the last ticket of its set's counter then adds the set's `chunks` partials
// in chunk order, in double, finishes the set (statistics, gradients) and resets the counter to 0 for the next
// launch. The order of every addition depends on the grid only, never on timing: the bits repeat run to run.
// Statistics sum x - K with K the set's first element (a shift that keeps the float sum of squares accurate);
// var = Q/n - (S/n)^2 in double.
//
// Elementwise passes (apply, dX, bias add) run a 2-D grid too: blockIdx.y = plane (n, c), blockIdx.x = a
// segment of that plane; the channel (one 32-bit division) and the per-plane coefficients are computed once per
// block, and every element is out = a*u + k0 + bb*(v - center) in float.
//
// Note [16-bit norm kernels]: x, y, dy, dx (the activations and their gradients) may be bfloat16 or binary16, storage
// type `dt` (half.cuh; 0 float32): each element is loaded to float and what is stored is rounded once to nearest-even;
// statistics, gamma, beta, partial sums and every other argument stay float32. The float4 path is float32 only.
#pragma once
#include "grid.cuh"
#include "half.cuh"
#include <math.h>

#define LS_NORM_BLOCK 256
// Elements per block of the elementwise passes (16 per thread).
#define LS_PLANE_SEG 4096

__host__ __device__ inline double ls_inv_std(double var, double eps) { return 1.0 / sqrt(var + eps); }

// Running statistics, PyTorch semantics: momentum-weighted mean and UNBIASED variance (n / (n - 1)).
__host__ __device__ inline void ls_bn_running_update(float* runMean, float* runVar, double mean, double var, long long n,
                                                     double momentum) {
  double unbiased = n > 1 ? var * n / (n - 1) : var;
  *runMean = (float)((1 - momentum) * *runMean + momentum * mean);
  *runVar = (float)((1 - momentum) * *runVar + momentum * unbiased);
}

// The reduction grid of Note [Two-level norm reductions], as backend/cuda/NormGrid.java computes it.
struct LsRedGeom {
  int sets, chunks, planes, hw, segLen, segs;
  long long setStride, planeStride;
  int vec;
};

struct LsRedShared {
  float f0[LS_NORM_BLOCK], f1[LS_NORM_BLOCK];
  double d0[LS_NORM_BLOCK], d1[LS_NORM_BLOCK];
  int last;
};

// Level 1: this thread's float sums over the units of chunk t.bx() of `set`. acc(i, s0, s1) adds element i
// (an index into the op's arrays); acc4 adds elements i..i+3 (i a multiple of 4).
template <class T, class Acc>
__host__ __device__ inline void ls_reduce_units(const T& t, const LsRedGeom& g, int set, const Acc& acc, float& s0, float& s1) {
  int units = g.planes * g.segs;
  int u0 = (int)((long long)units * t.bx() / g.chunks);
  int u1 = (int)((long long)units * (t.bx() + 1) / g.chunks);
  for (int u = u0; u < u1; u++) {
    int k = u / g.segs;
    int j = u - k * g.segs;
    long long base = set * g.setStride + k * g.planeStride + (long long)j * g.segLen;
    int len = g.hw - j * g.segLen < g.segLen ? g.hw - j * g.segLen : g.segLen;
    if (g.vec) {
      for (int i = 4 * t.tx(); i < len; i += 4 * t.bdim()) acc.add4(base + i, s0, s1);
    } else {
      for (int i = t.tx(); i < len; i += t.bdim()) acc.add(base + i, s0, s1);
    }
  }
}

// Levels 1 and 2 for one set: returns true in thread 0 of the block that finishes the set, with the set's sums
// in S0, S1 (double). partials: [sets][chunks][2] floats; counters: [sets], 0 before and after the launch.
template <class T, class Acc>
__host__ __device__ inline bool ls_reduce_set(const T& t, LsRedShared& sh, const LsRedGeom& g, int set, const Acc& acc,
                                              float* partials, unsigned* counters, double& S0, double& S1) {
  float s0 = 0.f, s1 = 0.f;
  ls_reduce_units(t, g, set, acc, s0, s1);
  ls_tree_sum2(t, s0, s1, sh.f0, sh.f1);
  if (g.chunks == 1) {
    S0 = s0;
    S1 = s1;
    return t.tx() == 0;
  }
  if (t.tx() == 0) {
    float* p = partials + 2 * ((long long)set * g.chunks + t.bx());
    p[0] = s0;
    p[1] = s1;
    sh.last = t.ticket(counters + set) == (unsigned)(g.chunks - 1);
  }
  t.sync();
  int last = sh.last;
  t.sync();
  if (!last) return false;   // the whole block (last is the same for every thread)
  double a = 0, b = 0;
  const float* p = partials + 2LL * set * g.chunks;
  for (int j = t.tx(); j < g.chunks; j += t.bdim()) {
    a += t.load_cg(p + 2 * j);
    b += t.load_cg(p + 2 * j + 1);
  }
  ls_tree_sum2(t, a, b, sh.d0, sh.d1);
  if (t.tx() == 0) counters[set] = 0;
  S0 = a;
  S1 = b;
  return t.tx() == 0;
}

// Statistics: sums of x - K and (x - K)^2, K the set's first element.
struct LsStatsAcc {
  const void* x;
  int dt;
  float K;
  __host__ __device__ void add(long long i, float& s0, float& s1) const { add1(ls_load(x, dt, i), s0, s1); }
  __host__ __device__ void add4(long long i, float& s0, float& s1) const {
    float4 v = *reinterpret_cast<const float4*>((const float*)x + i);
    add1(v.x, s0, s1);
    add1(v.y, s0, s1);
    add1(v.z, s0, s1);
    add1(v.w, s0, s1);
  }
  __host__ __device__ void add1(float v, float& s0, float& s1) const {
    float d = v - K;
    s0 += d;
    s1 = fmaf(d, d, s1);
  }
};

// Gradient sums: dy and dy * (v - center) (v null: dy only).
struct LsGradAcc {
  const void* dy;
  const void* v;
  int dt;
  float center;
  __host__ __device__ void add(long long i, float& s0, float& s1) const {
    float g = ls_load(dy, dt, i);
    s0 += g;
    if (v) s1 = fmaf(g, ls_load(v, dt, i) - center, s1);
  }
  __host__ __device__ void add4(long long i, float& s0, float& s1) const {
    float4 g = *reinterpret_cast<const float4*>((const float*)dy + i);
    if (!v) {
      s0 += g.x;
      s0 += g.y;
      s0 += g.z;
      s0 += g.w;
      return;
    }
    float4 w = *reinterpret_cast<const float4*>((const float*)v + i);
    s0 += g.x;
    s1 = fmaf(g.x, w.x - center, s1);
    s0 += g.y;
    s1 = fmaf(g.y, w.y - center, s1);
    s0 += g.z;
    s1 = fmaf(g.z, w.z - center, s1);
    s0 += g.w;
    s1 = fmaf(g.w, w.w - center, s1);
  }
};

// Norm statistics (BN training forward: sets = channels; GN forward: sets = (sample, group)): saveMean,
// saveInvStd per set; running statistics updated when runMean is not null (BN TRAIN; REPLAY passes null).
template <class T>
__host__ __device__ void ls_norm_stats_body(const T& t, LsRedShared& sh, LsRedGeom g, const void* x, int dt, float* saveMean,
                                            float* saveInvStd, float* runMean, float* runVar, double eps, double momentum,
                                            float* partials, unsigned* counters) {
  if (dt != LS_F32) g.vec = 0;
  for (int set = t.by(); set < g.sets; set += t.gy()) {
    LsStatsAcc acc{x, dt, ls_load(x, dt, set * g.setStride)};
    double S, Q;
    if (ls_reduce_set(t, sh, g, set, acc, partials, counters, S, Q)) {
      long long n = (long long)g.planes * g.hw;
      double ms = S / n;
      double mean = (double)acc.K + ms;
      double var = Q / n - ms * ms;
      if (var < 0) var = 0;
      saveMean[set] = (float)mean;
      saveInvStd[set] = (float)ls_inv_std(var, eps);
      if (runMean) ls_bn_running_update(runMean + set, runVar + set, mean, var, n, momentum);
    }
    t.sync();
  }
}

// Kinds of ls_norm_grad_body: what center and multiplier the set gets.
#define LS_GRAD_BN_X 0      // p0 = saveMean, p1 = saveInvStd: xhat = (x - mean) * invStd
#define LS_GRAD_BN_Y 1      // p0 = beta, p1 = gamma: xhat = (y - beta) / gamma (Note [In-place BN backward])
#define LS_GRAD_BN_EVAL 2   // p0 = runMean, p1 = runVar: invStd = 1 / sqrt(runVar + eps)
#define LS_GRAD_SUM 3       // v null: out0 = sum of dy (conv bias gradient)
#define LS_GRAD_GN_PLANE 4  // sets = planes (n, c); p0 = saveMean, p1 = saveInvStd per (n, group)
#define LS_GRAD_GN_PLANE_Y 5  // sets = planes (n, c); p0 = beta, p1 = gamma per channel: xhat = (y - beta) / gamma

// Gradient sums per set: out0[set] = sum dy, out1[set] = sum dy * xhat. BN: out0 = dBeta, out1 = dGamma.
template <class T>
__host__ __device__ void ls_norm_grad_body(const T& t, LsRedShared& sh, LsRedGeom g, int kind, int C, int groups,
                                           const void* v, const void* dy, int dt, const float* p0, const float* p1, double eps,
                                           float* out0, float* out1, float* partials, unsigned* counters) {
  if (dt != LS_F32) g.vec = 0;
  for (int set = t.by(); set < g.sets; set += t.gy()) {
    int s = set;
    if (kind == LS_GRAD_GN_PLANE) {
      int n = set / C;
      s = n * groups + (set - n * C) / (C / groups);
    } else if (kind == LS_GRAD_GN_PLANE_Y) {
      s = set - (set / C) * C;  // the plane's channel
    }
    double center = kind == LS_GRAD_SUM ? 0.0 : (double)p0[s];
    double mult = (kind == LS_GRAD_BN_Y || kind == LS_GRAD_GN_PLANE_Y) ? 1.0 / (double)p1[s]
                  : kind == LS_GRAD_BN_EVAL ? ls_inv_std(p1[s], eps)
                  : kind == LS_GRAD_SUM ? 0.0 : (double)p1[s];
    LsGradAcc acc{dy, kind == LS_GRAD_SUM ? nullptr : v, dt, (float)center};
    double S0, S1;
    if (ls_reduce_set(t, sh, g, set, acc, partials, counters, S0, S1)) {
      out0[set] = (float)S0;
      if (out1) out1[set] = (float)(S1 * mult);
    }
    t.sync();
  }
}

// Group norm backward, after ls_norm_grad_body over planes: planeDy[n, c] = sum dy, planeDyXhat[n, c] = sum dy*xhat.
// dGamma[c], dBeta[c] sum over n in order; gs[2t], gs[2t+1] = means over the (n, group) block t of g = dy*gamma
// and g*xhat. One block; every loop in a fixed order.
template <class T>
__host__ __device__ void ls_gn_grad_finish_body(const T& t, int N, int C, int groups, int hw, const float* gamma,
                                                const float* planeDy, const float* planeDyXhat, float* dGamma, float* dBeta,
                                                float* gs) {
  for (int c = t.tx(); c < C; c += t.bdim()) {
    double a = 0, b = 0;
    for (int n = 0; n < N; n++) {
      a += planeDy[(long long)n * C + c];
      b += planeDyXhat[(long long)n * C + c];
    }
    dBeta[c] = (float)a;
    dGamma[c] = (float)b;
  }
  int cpg = C / groups;
  double m = (double)cpg * hw;
  for (int s = t.tx(); s < N * groups; s += t.bdim()) {
    int n = s / groups;
    int c0 = (s - n * groups) * cpg;
    double a = 0, b = 0;
    for (int c = c0; c < c0 + cpg; c++) {
      a += (double)gamma[c] * planeDy[(long long)n * C + c];
      b += (double)gamma[c] * planeDyXhat[(long long)n * C + c];
    }
    gs[2 * s] = (float)(a / m);
    gs[2 * s + 1] = (float)(b / m);
  }
}

// Kinds of ls_plane_affine_body: out = a*u + k0 + bb*(v - center), coefficients per plane (n, c).
#define LS_AFF_BN_TRAIN 0     // v = x; p0 = saveMean, p1 = saveInvStd, p2 = gamma, p3 = beta
#define LS_AFF_BN_EVAL 1      // v = x; p0 = runMean, p1 = runVar (eps), p2 = gamma, p3 = beta
#define LS_AFF_BN_DX 2        // u = dy, v = x; p0 = saveMean, p1 = saveInvStd, p2 = gamma, p3 = dGamma, p4 = dBeta
#define LS_AFF_BN_DX_FROM_Y 3 // u = dy, v = y; p0 = beta, p1 = saveInvStd, p2 = gamma, p3 = dGamma, p4 = dBeta
#define LS_AFF_BN_EVAL_DX 4   // u = dy; p1 = runVar (eps), p2 = gamma
#define LS_AFF_GN 5           // v = x; p0 = saveMean, p1 = saveInvStd per (n, group); p2 = gamma, p3 = beta
#define LS_AFF_GN_DX 6        // u = dy, v = x; p0, p1 per (n, group); p2 = gamma; p3 = gs (ls_gn_grad_finish_body)
#define LS_AFF_BIAS 7         // v = y (out may be y); p0 = bias
#define LS_AFF_GN_DX_FROM_Y 8 // u = dy, v = y; p0 = beta, p2 = gamma per channel; p1 = saveInvStd per (n, group); p3 = gs

struct LsAffine {
  float a, k0, bb, center;
};

__host__ __device__ inline LsAffine ls_plane_coefficients(int kind, int n, int c, int C, int groups, long long perSet,
                                                          const float* p0, const float* p1, const float* p2,
                                                          const float* p3, const float* p4, double eps) {
  int s = groups > 0 ? n * groups + c / (C / groups) : c;
  double meanDy, meanDyXhat, a, invStd;
  switch (kind) {
    case LS_AFF_BN_TRAIN:
    case LS_AFF_GN:
      return {0.f, p3[c], (float)((double)p2[c] * p1[s]), p0[s]};
    case LS_AFF_BN_EVAL:
      return {0.f, p3[c], (float)((double)p2[c] * ls_inv_std(p1[c], eps)), p0[c]};
    case LS_AFF_BN_DX:
    case LS_AFF_BN_DX_FROM_Y:
      invStd = p1[c];
      a = p2[c] * invStd;
      meanDy = (double)p4[c] / perSet;
      meanDyXhat = (double)p3[c] / perSet;
      // from x: - a * meanDyXhat * (x - mean) * invStd; from y: xhat = (y - beta) / gamma
      return {(float)a, (float)(-a * meanDy),
              (float)(kind == LS_AFF_BN_DX ? -a * invStd * meanDyXhat : -invStd * meanDyXhat), p0[c]};
    case LS_AFF_BN_EVAL_DX:
      return {(float)(p2[c] * ls_inv_std(p1[c], eps)), 0.f, 0.f, 0.f};
    case LS_AFF_GN_DX:
      invStd = p1[s];
      return {(float)(invStd * p2[c]), (float)(-invStd * p3[2 * s]), (float)(-invStd * invStd * p3[2 * s + 1]), p0[s]};
    case LS_AFF_GN_DX_FROM_Y:
      // Note [In-place GN backward]: xhat = (y - beta) / gamma
      invStd = p1[s];
      return {(float)(invStd * p2[c]), (float)(-invStd * p3[2 * s]), (float)(-invStd * p3[2 * s + 1] / p2[c]), p0[c]};
    default:  // LS_AFF_BIAS
      return {0.f, p0[c], 1.f, 0.f};
  }
}

__host__ __device__ inline float ls_affine(const LsAffine& k, float u, float v) {
  float r = fmaf(k.bb, v - k.center, k.k0);
  return fmaf(k.a, u, r);
}

// One pass over planes [N*C, hw]: block (x, y) does plane y's elements [x*LS_PLANE_SEG, (x+1)*LS_PLANE_SEG).
// u or v may be null (read as 0); out may be u or v (each element is read before it is written, by one thread).
// vec: every pointer is 16-byte aligned (float4 loads and stores when hw % 4 == 0 too).
template <class T>
__host__ __device__ void ls_plane_affine_body(const T& t, int kind, int planes, int C, int hw, int groups, long long perSet,
                                              int vec, const void* u, const void* v, void* out, int dt, const float* p0,
                                              const float* p1, const float* p2, const float* p3, const float* p4,
                                              double eps) {
  int segs = (hw + LS_PLANE_SEG - 1) / LS_PLANE_SEG;
  vec = vec && hw % 4 == 0 && dt == LS_F32;  // float4 only where every plane starts on a 16-byte boundary
  for (int p = t.by(); p < planes; p += t.gy()) {
    int n = p / C;
    LsAffine k = ls_plane_coefficients(kind, n, p - n * C, C, groups, perSet, p0, p1, p2, p3, p4, eps);
    for (int j = t.bx(); j < segs; j += t.gx()) {
      long long base = (long long)p * hw + (long long)j * LS_PLANE_SEG;
      int len = hw - j * LS_PLANE_SEG < LS_PLANE_SEG ? hw - j * LS_PLANE_SEG : LS_PLANE_SEG;
      if (vec) {
        for (int i = 4 * t.tx(); i < len; i += 4 * t.bdim()) {
          float4 a = u ? *reinterpret_cast<const float4*>((const float*)u + base + i) : float4{0.f, 0.f, 0.f, 0.f};
          float4 b = v ? *reinterpret_cast<const float4*>((const float*)v + base + i) : float4{0.f, 0.f, 0.f, 0.f};
          float4 r{ls_affine(k, a.x, b.x), ls_affine(k, a.y, b.y), ls_affine(k, a.z, b.z), ls_affine(k, a.w, b.w)};
          *reinterpret_cast<float4*>((float*)out + base + i) = r;
        }
      } else {
        for (int i = t.tx(); i < len; i += t.bdim()) {
          ls_store(out, dt, base + i, ls_affine(k, u ? ls_load(u, dt, base + i) : 0.f, v ? ls_load(v, dt, base + i) : 0.f));
        }
      }
    }
  }
}
