// Batch-norm and group-norm kernels: thin __global__ wrappers around the bodies in norm.cuh (Note [Two-level
// norm reductions]), which the host build runs over the same grid (HostKernelGridTest). Launch with
// LS_NORM_BLOCK (256) threads per block; grids from backend/cuda/NormGrid.java. Check: mvn test -Dgroups=gpu
// (CudaOpsParityTest) on a GPU, HostKernelGridTest everywhere.
#include "norm.cuh"

#define LS_RED_GEOM_PARAMS \
  int sets, int chunks, int planes, int hw, int segLen, int segs, long long setStride, long long planeStride, int vec
#define LS_RED_GEOM LsRedGeom{sets, chunks, planes, hw, segLen, segs, setStride, planeStride, vec}

// Grid (chunks, min(sets, 65535)): statistics per set (BN channel, GN (sample, group)).
// dt: the storage type of x (Note [16-bit norm kernels]).
extern "C" __global__ void ls_norm_stats_k(LS_RED_GEOM_PARAMS, const void* x, float* saveMean, float* saveInvStd,
                                           float* runMean, float* runVar, double eps, double momentum, float* partials,
                                           unsigned* counters, int dt) {
  __shared__ LsRedShared sh;
  ls_norm_stats_body(LsDevThread(), sh, LS_RED_GEOM, x, dt, saveMean, saveInvStd, runMean, runVar, eps, momentum, partials,
                     counters);
}

// Grid (chunks, min(sets, 65535)): gradient sums per set (kind LS_GRAD_*).
// dt: the storage type of v and dy.
extern "C" __global__ void ls_norm_grad_k(LS_RED_GEOM_PARAMS, int kind, int C, int groups, const void* v, const void* dy,
                                          const float* p0, const float* p1, double eps, float* out0, float* out1,
                                          float* partials, unsigned* counters, int dt) {
  __shared__ LsRedShared sh;
  ls_norm_grad_body(LsDevThread(), sh, LS_RED_GEOM, kind, C, groups, v, dy, dt, p0, p1, eps, out0, out1, partials, counters);
}

// One block: group norm dGamma, dBeta and the per-(sample, group) means for dX.
extern "C" __global__ void ls_gn_grad_finish_k(int N, int C, int groups, int hw, const float* gamma, const float* planeDy,
                                               const float* planeDyXhat, float* dGamma, float* dBeta, float* gs) {
  ls_gn_grad_finish_body(LsDevThread(), N, C, groups, hw, gamma, planeDy, planeDyXhat, dGamma, dBeta, gs);
}

// Grid (ceil(hw / LS_PLANE_SEG), min(planes, 65535)): elementwise pass (kind LS_AFF_*).
// dt: the storage type of u, v and out.
extern "C" __global__ void ls_plane_affine_k(int kind, int planes, int C, int hw, int groups, long long perSet, int vec,
                                             const void* u, const void* v, void* out, const float* p0, const float* p1,
                                             const float* p2, const float* p3, const float* p4, double eps, int dt) {
  ls_plane_affine_body(LsDevThread(), kind, planes, C, hw, groups, perSet, vec, u, v, out, dt, p0, p1, p2, p3, p4, eps);
}
